// tsc compiles TypeScript only; the plain-SQL migrations travel next to the compiled store module.
import { cpSync } from 'node:fs';

cpSync('src/store/migrations', 'dist/store/migrations', { recursive: true });
