import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { operatorKeyFromToken } from '../../src/api/auth.js';
import { buildMetricsApi } from '../../src/api/server.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import type { Db } from '../../src/store/db.js';

/** A stream that keeps what the logger wrote. */
function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('logs', () => {
  test('json: one line per request at info, with method, URL, status and duration', async () => {
    const out = sink();
    const log = createLogger({ level: 'info', format: 'json', destination: out.stream });
    // the smallest app with the API's logging: the worker's metrics port (/healthz needs no store)
    const app = buildMetricsApi({
      db: {} as Db,
      config: loadConfig({}),
      operatorKey: operatorKeyFromToken('test-operator-key-0123456789'),
      logger: log,
      metrics: new Metrics(),
    });
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    await app.close();
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.reqId !== undefined);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, method: 'GET', url: '/healthz', statusCode: 200 });
    expect(lines[0]!.responseTimeMs).toEqual(expect.any(Number));
  });

  test('pretty: a readable line, no JSON', () => {
    const out = sink();
    const log = createLogger({ level: 'info', format: 'pretty', destination: out.stream, colorize: false });
    log.info({ engine: 'pglite' }, 'schema up to date');
    const text = out.text();
    expect(text).toMatch(/INFO.*schema up to date/);
    expect(text).toContain('{"engine":"pglite"}');
    expect(() => JSON.parse(text) as unknown).toThrow();
  });

  test('LOG_FORMAT: pretty when stdout is a terminal, json otherwise; a bad value or level is refused', () => {
    expect(loadConfig({}, { stdoutIsTTY: true }).logFormat).toBe('pretty');
    expect(loadConfig({}, { stdoutIsTTY: false }).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'json' }, { stdoutIsTTY: true }).logFormat).toBe('json');
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow('LOG_FORMAT must be pretty or json, got "xml"');
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).toThrow(
      'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"',
    );
  });
});
