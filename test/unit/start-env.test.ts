import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startScriptEnv } from '../../drills/lib/procs.js';

describe("npm start's environment, as drills and benches start the service", () => {
  it("is this checkout's start script's: the C heap gives large freed blocks back", () => {
    expect(startScriptEnv(undefined, {})).toEqual({ MALLOC_MMAP_THRESHOLD_: '131072' });
  });

  it("resolves each default as the shell does: the caller's value unless unset or empty", () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpt-start-env-'));
    try {
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ scripts: { start: 'A_B=${A_B:-1} C=${C:-two words} node x.js serve' } }),
      );
      expect(startScriptEnv(dir, {})).toEqual({ A_B: '1', C: 'two words' });
      expect(startScriptEnv(dir, { A_B: '7', C: '' })).toEqual({ A_B: '7', C: 'two words' });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { start: 'node x.js serve' } }));
      expect(startScriptEnv(dir, { A_B: '7' })).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
