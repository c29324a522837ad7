/**
 * Starts the OpenTelemetry SDK for this process, as `TracingSettings` (the `OTEL_*` variables) say.
 * The SDK is imported only here, and only when tracing is on: a process that does not trace loads
 * none of it.
 */
import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../log.js';
import { PACKAGE_VERSION } from '../version.js';
import { setTracer } from './context.js';
import type { TracingSettings } from './settings.js';

export interface Tracing {
  /** exports every span ended so far */
  flush(): Promise<void>;
  /** exports what is left, then stops tracing in this process */
  stop(): Promise<void>;
}

/** The instrumentation scope of every span of the service. */
const SCOPE = 'fpt-events';

async function exporterFor(
  name: TracingSettings['exporters'][number],
  s: TracingSettings,
): Promise<SpanExporter> {
  if (name === 'console') return new (await import('@opentelemetry/sdk-trace-base')).ConsoleSpanExporter();
  // both read OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION themselves
  if (s.protocol === 'http/json')
    return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
}

/**
 * Registers a tracer provider (W3C Trace Context propagation, an AsyncLocalStorage context manager,
 * the sampler of `OTEL_TRACES_SAMPLER`, a batch span processor per exporter sized by `OTEL_BSP_*`)
 * and makes its tracer the one the service's spans use. `exporters` replaces the exporters the
 * settings name (tests pass the SDK's `InMemorySpanExporter`); everything else is the same path.
 */
export async function startTracing(
  settings: TracingSettings,
  log: Pick<Logger, 'warn' | 'info'>,
  opts: { exporters?: SpanExporter[] } = {},
): Promise<Tracing> {
  const [{ NodeTracerProvider }, { BatchSpanProcessor }, resources, semconv] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const exporters =
    opts.exporters ?? (await Promise.all(settings.exporters.map((n) => exporterFor(n, settings))));
  // the SDK reports failed exports through its diagnostic logger: into the service's log
  diag.setLogger(
    {
      error: (msg, ...args) => log.warn({ otel: args }, `tracing: ${msg}`),
      warn: (msg, ...args) => log.warn({ otel: args }, `tracing: ${msg}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  // the service's name and version, unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say otherwise
  const resource = resources
    .defaultResource()
    .merge(
      resources.resourceFromAttributes({
        [semconv.ATTR_SERVICE_NAME]: 'fpt-events',
        [semconv.ATTR_SERVICE_VERSION]: PACKAGE_VERSION,
      }),
    )
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: exporters.map((e) => new BatchSpanProcessor(e)),
  });
  provider.register();
  setTracer(provider.getTracer(SCOPE, PACKAGE_VERSION));
  log.info({ exporters: opts.exporters ? 'given' : settings.exporters }, 'tracing on (OpenTelemetry)');
  let stopping: Promise<void> | undefined;
  return {
    flush: () => provider.forceFlush(),
    stop: () =>
      (stopping ??= (async () => {
        setTracer(undefined);
        try {
          await provider.shutdown();
        } finally {
          trace.disable();
          context.disable();
          propagation.disable();
          diag.disable();
        }
      })()),
  };
}
