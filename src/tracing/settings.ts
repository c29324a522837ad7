/**
 * Whether this process traces, and where to, from the standard `OTEL_*` variables (the
 * OpenTelemetry SDK environment variable specification). Pure: it reads the variables it is given.
 *
 * Tracing is off unless asked for: `OTEL_TRACES_EXPORTER` names an exporter other than `none`, or an
 * OTLP endpoint is set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`, which
 * imply `otlp`). The specification's default exporter is `otlp` to localhost; taken literally, every
 * deployment without a collector would trace and fail to export. `OTEL_SDK_DISABLED=true` turns it
 * off whatever else is set. The rest (sampler, batch sizes, endpoint, headers, timeout, resource
 * attributes) is read by the SDK itself from the same variables.
 */

export type TraceExporterName = 'otlp' | 'console';
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingSettings {
  exporters: TraceExporterName[];
  /** the OTLP exporter's encoding (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`) */
  protocol: OtlpProtocol;
}

type Env = Record<string, string | undefined>;

const EXPORTERS: readonly string[] = ['otlp', 'console', 'none'];
const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json'];

const set = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
};

/** The tracing settings, or undefined when tracing is off; throws an Error naming the variable. */
export function tracingSettings(env: Env): TracingSettings | undefined {
  const disabled = set(env, 'OTEL_SDK_DISABLED')?.toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') {
    throw new Error(`OTEL_SDK_DISABLED must be true or false, got "${env.OTEL_SDK_DISABLED}"`);
  }
  if (disabled === 'true') return undefined;
  const named = set(env, 'OTEL_TRACES_EXPORTER');
  let exporters: TraceExporterName[];
  if (named === undefined) {
    const endpoint =
      set(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? set(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    if (endpoint === undefined) return undefined;
    exporters = ['otlp'];
  } else {
    const names = named.split(',').map((n) => n.trim().toLowerCase());
    for (const n of names) {
      if (!EXPORTERS.includes(n)) {
        throw new Error(`OTEL_TRACES_EXPORTER must list otlp, console or none, got "${n}"`);
      }
    }
    if (names.includes('none')) return undefined;
    exporters = [...new Set(names)] as TraceExporterName[];
  }
  const protocol =
    set(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    set(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ??
    'http/protobuf';
  if (exporters.includes('otlp') && !PROTOCOLS.includes(protocol)) {
    const name =
      set(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') !== undefined
        ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
        : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    throw new Error(`${name} must be http/protobuf or http/json (grpc is not supported), got "${protocol}"`);
  }
  return { exporters, protocol: protocol as OtlpProtocol };
}
