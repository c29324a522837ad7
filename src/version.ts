import { readFileSync } from 'node:fs';

/** This build's version, from its package.json (`src/` and `dist/` both sit beside it). */
export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
