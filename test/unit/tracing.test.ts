import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { formatTraceparent, inSpan, parseTraceparent, tracingOn } from '../../src/tracing/context.js';
import { tracingSettings } from '../../src/tracing/settings.js';
import { startTracing } from '../../src/tracing/start.js';
import { RunningCli } from '../helpers/cli.js';
import { seededDataDir } from '../helpers/embedded-data-dir.js';

describe('the OTEL_* variables', () => {
  test('tracing is off unless an exporter or an OTLP endpoint is named', () => {
    expect(tracingSettings({})).toBeUndefined();
    expect(tracingSettings({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBeUndefined();
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp, none' })).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toEqual({
      exporters: ['otlp'],
      protocol: 'http/protobuf',
    });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toEqual({
      exporters: ['otlp'],
      protocol: 'http/protobuf',
    });
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'console,OTLP,otlp' })).toEqual({
      exporters: ['console', 'otlp'],
      protocol: 'http/protobuf',
    });
  });

  test('OTEL_SDK_DISABLED=true wins; the signal-specific protocol wins over the general one', () => {
    expect(
      tracingSettings({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }),
    ).toBeUndefined();
    expect(
      tracingSettings({ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }),
    ).toBeDefined();
    expect(
      tracingSettings({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }),
    ).toEqual({ exporters: ['otlp'], protocol: 'http/json' });
  });

  test('what is not supported is a one-line configuration error naming the variable', () => {
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(
      new ConfigError('OTEL_TRACES_EXPORTER must list otlp, console or none, got "zipkin"'),
    );
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      new ConfigError(
        'OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (grpc is not supported), got "grpc"',
      ),
    );
    expect(() => loadConfig({ OTEL_SDK_DISABLED: 'yes' })).toThrow(
      new ConfigError('OTEL_SDK_DISABLED must be true or false, got "yes"'),
    );
    // a console-only exporter does not care about the OTLP protocol
    expect(
      loadConfig({ OTEL_TRACES_EXPORTER: 'console', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).tracing,
    ).toEqual({
      exporters: ['console'],
      protocol: 'grpc',
    });
  });

  test('a stored traceparent reads back as the span context it was written from', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const sc = parseTraceparent(tp)!;
    expect(sc).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' });
    expect(formatTraceparent(sc)).toBe(tp);
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00')!.traceFlags).toBe(0);
    for (const bad of [null, '', 'garbage', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`, tp.toUpperCase()]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });
});

/** An OTLP/HTTP collector on loopback that records what it is sent. */
async function collector(): Promise<{
  server: Server;
  url: string;
  received: { path: string; headers: IncomingHttpHeaders; body: Buffer }[];
  next: () => Promise<void>;
}> {
  const received: { path: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
  let waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      for (const w of waiters.splice(0)) w();
      res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  waiters = [];
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

describe('exporting to a collector', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test('http/json: the spans reach OTEL_EXPORTER_OTLP_TRACES_ENDPOINT with OTEL_SERVICE_NAME', async () => {
    const c = await collector();
    try {
      vi.stubEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', `${c.url}/custom/traces`);
      vi.stubEnv('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'http/json');
      vi.stubEnv('OTEL_SERVICE_NAME', 'fpt-events-json-test');
      const settings = loadConfig(process.env).tracing!;
      expect(settings.protocol).toBe('http/json');
      const tracing = await startTracing(settings, createLogger('silent'));
      try {
        expect(tracingOn()).toBe(true);
        await inSpan('unit.work', { 'fpt.test': 1 }, async () => {});
        const arrived = c.next();
        await tracing.flush();
        await arrived;
      } finally {
        await tracing.stop();
      }
      expect(tracingOn()).toBe(false);
      const [req] = c.received;
      expect(req!.path).toBe('/custom/traces');
      expect(req!.headers['content-type']).toBe('application/json');
      const body = JSON.parse(req!.body.toString('utf8')) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { scope: { name: string }; spans: { name: string }[] }[];
        }[];
      };
      const rs = body.resourceSpans[0]!;
      expect(rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue).toBe(
        'fpt-events-json-test',
      );
      expect(rs.scopeSpans[0]!.scope.name).toBe('fpt-events');
      expect(rs.scopeSpans[0]!.spans.map((s) => s.name)).toEqual(['unit.work']);
    } finally {
      c.server.close();
    }
  });

  test('`serve` with OTEL_EXPORTER_OTLP_ENDPOINT exports its request spans (protobuf), continuing the caller’s traceparent', async () => {
    const c = await collector();
    const dir = mkdtempSync(join(tmpdir(), 'fpt-otel-'));
    await seededDataDir(join(dir, 'data'));
    const OPERATOR = 'otel-test-operator-key-0123456789';
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FPT_DATA_DIR: join(dir, 'data'),
      HOST: '127.0.0.1',
      PORT: '0',
      FPT_ADMIN_TOKEN: OPERATOR,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: c.url,
      OTEL_SERVICE_NAME: 'fpt-events-under-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    };
    delete env.DATABASE_URL;
    delete env.OTEL_TRACES_EXPORTER;
    const service = RunningCli.start(['serve'], env);
    try {
      await service.lineMatching(/"exporters":\["otlp"\].*tracing on/);
      const url = (await service.lineMatching(/"url":"([^"]+)".*"fpt-events is serving"/))[1]!;
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const arrived = c.next();
      const res = await fetch(`${url}/api/organizations`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${OPERATOR}`,
          'content-type': 'application/json',
          traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        },
        body: JSON.stringify({ name: 'Traced Gym' }),
      });
      expect(res.status).toBe(201);
      await arrived;
      const req = c.received[0]!;
      expect(req.path).toBe('/v1/traces');
      expect(req.headers['content-type']).toBe('application/x-protobuf');
      // protobuf carries strings as they are and ids as raw bytes
      expect(req.body.includes(Buffer.from('fpt-events-under-test'))).toBe(true);
      expect(req.body.includes(Buffer.from('POST /api/organizations'))).toBe(true);
      expect(req.body.includes(Buffer.from(traceId, 'hex'))).toBe(true);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
      c.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
