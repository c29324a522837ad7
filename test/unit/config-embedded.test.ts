import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('the embedded engine settings in the environment', () => {
  it('are empty by default: the engine keeps its own', () => {
    expect(loadConfig({}).embedded).toEqual({
      settings: {},
      wasmOptimize: false,
      heapReturnsCompilerMemory: false,
    });
  });

  // the optimizing compiler's memory is given back only when the C heap's mmap threshold is fixed
  it.each([
    [{}, false],
    [{ MALLOC_MMAP_THRESHOLD_: '131072' }, true],
    [{ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072' }, true],
    [{ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, false],
    [{ MALLOC_MMAP_THRESHOLD_: '131072', FPT_EMBEDDED_WASM_OPTIMIZE: 'auto' }, true],
    [{ MALLOC_MMAP_THRESHOLD_: '131072', FPT_EMBEDDED_WASM_OPTIMIZE: '0' }, false],
    [{ FPT_EMBEDDED_WASM_OPTIMIZE: 'auto' }, false],
    [{ FPT_EMBEDDED_WASM_OPTIMIZE: '1' }, true],
  ])(
    'optimizes the WebAssembly by default exactly when the C heap gives the compiler memory back: %o → %s',
    (env, on) => {
      expect(loadConfig(env).embedded.wasmOptimize).toBe(on);
    },
  );

  it('reads the sizes, the pass-through and the WebAssembly tier', () => {
    const { embedded } = loadConfig({
      FPT_EMBEDDED_SHARED_BUFFERS: '32MB',
      FPT_EMBEDDED_WORK_MEM: '512kB',
      FPT_EMBEDDED_MAINTENANCE_WORK_MEM: '1GB',
      FPT_EMBEDDED_PG_SETTINGS: ' max_wal_size = 256MB ,wal_buffers=1MB',
      FPT_EMBEDDED_WASM_OPTIMIZE: '1',
    });
    expect(embedded).toEqual({
      settings: {
        shared_buffers: '32MB',
        work_mem: '512kB',
        maintenance_work_mem: '1GB',
        max_wal_size: '256MB',
        wal_buffers: '1MB',
      },
      wasmOptimize: true,
      heapReturnsCompilerMemory: false,
    });
  });

  it('lets a pair of the pass-through win over the variable of the same setting', () => {
    const { embedded } = loadConfig({
      FPT_EMBEDDED_SHARED_BUFFERS: '32MB',
      FPT_EMBEDDED_PG_SETTINGS: 'shared_buffers=64MB',
    });
    expect(embedded.settings).toEqual({ shared_buffers: '64MB' });
  });

  it.each([
    [
      'FPT_EMBEDDED_SHARED_BUFFERS',
      '16',
      /^FPT_EMBEDDED_SHARED_BUFFERS must be a size with its unit \(kB, MB or GB\) from 128kB to 1024MB, got "16"$/,
    ],
    ['FPT_EMBEDDED_SHARED_BUFFERS', '16mb', /got "16mb"$/],
    ['FPT_EMBEDDED_SHARED_BUFFERS', '2GB', /from 128kB to 1024MB, got "2GB"$/],
    ['FPT_EMBEDDED_SHARED_BUFFERS', '64kB', /got "64kB"$/],
    ['FPT_EMBEDDED_WORK_MEM', '-4MB', /^FPT_EMBEDDED_WORK_MEM must be .* from 64kB to 256MB, got "-4MB"$/],
    ['FPT_EMBEDDED_MAINTENANCE_WORK_MEM', 'lots', /^FPT_EMBEDDED_MAINTENANCE_WORK_MEM must be/],
    [
      'FPT_EMBEDDED_PG_SETTINGS',
      'work_mem',
      /^FPT_EMBEDDED_PG_SETTINGS must be name=value pairs separated by commas .*, got "work_mem"$/,
    ],
    ['FPT_EMBEDDED_PG_SETTINGS', 'work_mem=8MB,,fsync=on', /got ""$/],
    ['FPT_EMBEDDED_PG_SETTINGS', 'work mem=8MB', /got "work mem=8MB"$/],
    ['FPT_EMBEDDED_PG_SETTINGS', 'work_mem=', /got "work_mem="$/],
    ['FPT_EMBEDDED_WASM_OPTIMIZE', 'maybe', /^FPT_EMBEDDED_WASM_OPTIMIZE must be 1, 0 or auto, got "maybe"$/],
  ])('refuses %s=%s with a one-line error naming it', (name, value, message) => {
    const load = () => loadConfig({ [name]: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
    try {
      load();
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
    }
  });
});
