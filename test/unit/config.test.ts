import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  test('a quiet period longer than the maximum window is refused, naming both settings', () => {
    expect(() => loadConfig({ FPT_COALESCE_QUIET_MS: '20000' })).toThrow(ConfigError);
    expect(() => loadConfig({ FPT_COALESCE_QUIET_MS: '20000', FPT_COALESCE_MAX_MS: '15000' })).toThrow(
      'FPT_COALESCE_QUIET_MS (20000) must not exceed FPT_COALESCE_MAX_MS (15000)',
    );
    expect(loadConfig({ FPT_COALESCE_QUIET_MS: '10000' }).coalesce).toEqual({ quietMs: 10000, maxMs: 10000 });
  });
});
