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

  test('retention: history kept unless a number of days is given; partitions of 1 to 30 days', () => {
    expect(loadConfig({}).retention).toEqual({
      partitionDays: 1,
      testDeliveryDays: 7,
      historyDays: undefined,
    });
    expect(
      loadConfig({
        FPT_HISTORY_RETENTION_DAYS: '90',
        FPT_PARTITION_DAYS: '7',
        FPT_TEST_DELIVERY_RETENTION_DAYS: '2',
      }).retention,
    ).toEqual({ partitionDays: 7, testDeliveryDays: 2, historyDays: 90 });
    expect(() => loadConfig({ FPT_HISTORY_RETENTION_DAYS: '0' })).toThrow(
      'FPT_HISTORY_RETENTION_DAYS must be an integer from 1 to 36500, got "0"',
    );
    expect(() => loadConfig({ FPT_PARTITION_DAYS: '31' })).toThrow(
      'FPT_PARTITION_DAYS must be an integer from 1 to 30',
    );
  });
});
