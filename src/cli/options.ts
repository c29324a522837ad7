import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError, EXIT } from './failure.js';

export function portOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

export function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be ${what}`);
    return n;
  };
}

/** Environment variables, described once; each command's --help lists only those it reads. */
const ENV: Record<string, string> = {
  DATABASE_URL:
    'postgres://… to use a PostgreSQL server (shared by any number of processes);\n    unset: the embedded store in FPT_DATA_DIR',
  FPT_DATA_DIR: "the embedded store's folder (default ./.fpt-data)",
  FPT_ADMIN_TOKEN: 'the operator key (default: generated on first start, printed once)',
  FPT_BODY_LIMIT_BYTES: 'largest JSON body the API reads (default 1048576)',
  FPT_IMPORT_BODY_LIMIT_BYTES: 'largest body of a bulk import (default 67108864)',
  FPT_COALESCE_QUIET_MS:
    "a contact's window closes this long after its last change (default 5000; at most FPT_COALESCE_MAX_MS)",
  FPT_COALESCE_MAX_MS: '…or this long after its first change, whichever is first (default 10000)',
  FPT_EVENT_RETENTION_DAYS: 'how long events stay in the pull API (default 30)',
  FPT_PARTITION_DAYS:
    'days of events, deliveries and attempts per partition dropped by retention (default 1)',
  FPT_TEST_DELIVERY_RETENTION_DAYS: 'how long test deliveries are kept (default 7)',
  FPT_HISTORY_RETENTION_DAYS: 'how long contact history is kept (default: kept)',
  FPT_RETRY_SCHEDULE: 'delays between delivery attempts (default 5s,5m,30m,2h,5h,10h,10h)',
  FPT_DELIVERY_TIMEOUT_MS: 'how long an endpoint has to answer (default 30000)',
  FPT_ALLOW_PRIVATE_URLS: '1: accept http:// and private addresses (local testing only)',
  FPT_DELIVERY_CONCURRENCY: 'requests in flight per process (default 512)',
  FPT_DELIVERY_CONCURRENCY_PER_SUBSCRIPTION:
    'requests in flight per process to one subscription (default 64)',
  FPT_SECRET_OVERLAP_HOURS: 'how long a rotated-out secret keeps signing (default 24)',
  FPT_WORKER_DEAD_AFTER_MS:
    'PostgreSQL: a process silent this long is dead, others send what it held (default 30000)',
  FPT_SECRETS_KEY:
    'base64 of 32 bytes: endpoint signing secrets are stored sealed with it (AES-256-GCM);\n    several, comma-separated: the first seals, all open',
  FPT_DELIVERY_CONCURRENCY_PER_ORGANIZATION:
    'requests in flight per process for one organization, all its subscriptions (default 256)',
  FPT_RATE_LIMIT_PER_SECOND:
    'requests a second per key (the operator key too), burst twice that, per process (default 1000; 0: off)',
  FPT_EXPENSIVE_RATE_LIMIT_PER_MINUTE:
    'test events, replays, imports, secret rotations a minute per key (default 20; 0: off)',
  FPT_AUTH_FAILURES_PER_MINUTE: 'failed authentications a minute per client address (default 30)',
  FPT_SUBSCRIPTIONS_PER_ORGANIZATION: 'quota: subscriptions per organization (default 50)',
  FPT_SUBSCRIPTIONS_PER_APP: 'quota: subscriptions per partner app (default 50)',
  FPT_REPLAY_MAX_DELIVERIES: 'the most deliveries one replay queues (default 100000)',
  FPT_AUDIT_RETENTION_DAYS: 'how long the audit log is kept (default 365)',
  FPT_MAINTENANCE_EVERY_MS:
    'how often the delivery queue is checked for ANALYZE and VACUUM (default 10000; on PostgreSQL also the most often a table is vacuumed)',
  FPT_EMBEDDED_SHARED_BUFFERS: 'the embedded store: its shared buffers (default 16MB)',
  FPT_EMBEDDED_WORK_MEM: 'the embedded store: memory per sort or hash (default 4MB)',
  FPT_EMBEDDED_MAINTENANCE_WORK_MEM: 'the embedded store: memory for VACUUM and index builds (default 16MB)',
  FPT_EMBEDDED_PG_SETTINGS: 'the embedded store: any PostgreSQL settings, name=value,… (over the above)',
  FPT_EMBEDDED_WASM_OPTIMIZE:
    '1 or 0: V8 optimizes the embedded engine or not (default auto: when MALLOC_MMAP_THRESHOLD_ is set)',
  FPT_HEAP_GROWING_PERCENT:
    "V8's heap may grow this far past its live data before a full collection (default 100; 0: V8's own)",
  FPT_METRICS_TOKEN: 'a token that may read /metrics besides the operator key (16+ characters)',
  FPT_METRICS_PORT: 'serve /metrics, /healthz and /readyz on this port, on HOST',
  PORT: 'the API port (default 8080)',
  HOST: 'the address to bind (default 0.0.0.0)',
  LOG_LEVEL: 'trace, debug, info, warn, error, fatal or silent (default info)',
  LOG_FORMAT: 'pretty (readable lines) or json (default: pretty at a terminal, json otherwise)',
  // OpenTelemetry traces (README, "Configuration"); the SDK also reads the rest of OTEL_*
  OTEL_TRACES_EXPORTER: 'otlp, console or none: traces are off unless this or an OTLP endpoint is set',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'the OTLP/HTTP collector (…/v1/traces is added); turns tracing on',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'the same, used as it is',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf (default) or http/json',
  OTEL_SERVICE_NAME: "the traces' service.name (default fpt-events)",
  OTEL_TRACES_SAMPLER: 'default parentbased_always_on; OTEL_TRACES_SAMPLER_ARG its argument',
  OTEL_SDK_DISABLED: 'true: no tracing, whatever else is set',
  FPT_URL: 'the service, when --url is not given (default http://localhost:8080)',
  FPT_API_KEY: 'the API key, when --api-key is not given',
  FPT_WEBHOOK_SECRET: "the subscription's signing secret, when --secret is not given",
};

export type EnvName = keyof typeof ENV;

/** What the delivery side of the service reads (serve and worker). */
export const SERVICE_ENV = [
  'DATABASE_URL',
  'FPT_DATA_DIR',
  'FPT_EMBEDDED_SHARED_BUFFERS',
  'FPT_EMBEDDED_WORK_MEM',
  'FPT_EMBEDDED_MAINTENANCE_WORK_MEM',
  'FPT_EMBEDDED_PG_SETTINGS',
  'FPT_EMBEDDED_WASM_OPTIMIZE',
  'FPT_COALESCE_QUIET_MS',
  'FPT_COALESCE_MAX_MS',
  'FPT_EVENT_RETENTION_DAYS',
  'FPT_MAINTENANCE_EVERY_MS',
  'FPT_PARTITION_DAYS',
  'FPT_TEST_DELIVERY_RETENTION_DAYS',
  'FPT_HISTORY_RETENTION_DAYS',
  'FPT_RETRY_SCHEDULE',
  'FPT_DELIVERY_TIMEOUT_MS',
  'FPT_ALLOW_PRIVATE_URLS',
  'FPT_DELIVERY_CONCURRENCY',
  'FPT_DELIVERY_CONCURRENCY_PER_SUBSCRIPTION',
  'FPT_DELIVERY_CONCURRENCY_PER_ORGANIZATION',
  'FPT_SECRET_OVERLAP_HOURS',
  'FPT_WORKER_DEAD_AFTER_MS',
  'FPT_SECRETS_KEY',
  'FPT_METRICS_TOKEN',
  'FPT_HEAP_GROWING_PERCENT',
] as const;

export const LOG_ENV = ['LOG_LEVEL', 'LOG_FORMAT'] as const;

/** What turns traces on and where they go (the processes that run the service: serve, worker). */
export const TRACING_ENV = [
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_SERVICE_NAME',
  'OTEL_TRACES_SAMPLER',
  'OTEL_SDK_DISABLED',
] as const;

export function envHelp(names: readonly string[]): string {
  const lines = names.map((n) => {
    const text = ENV[n] ?? '';
    return n.length < 22 ? `  ${n.padEnd(22)}${text}` : `  ${n}\n    ${text}`;
  });
  return `\nEnvironment:\n${lines.join('\n')}`;
}

const EXIT_TEXT: Record<number, string> = {
  [EXIT.ok]: 'done',
  [EXIT.failed]: 'refused or failed (the message says why)',
  [EXIT.usage]: 'usage or configuration error (a bad option or setting, a missing key or file)',
  [EXIT.partial]: 'partly done',
  [EXIT.unreachable]: 'could not reach the service',
  [EXIT.timeout]: 'timed out waiting',
};

/** "Exit status:" for a command's --help, with the command's own wording where it has one. */
export function exitHelp(codes: readonly number[], own: Record<number, string> = {}): string {
  return `\nExit status:\n${codes.map((c) => `  ${c}  ${own[c] ?? EXIT_TEXT[c]}`).join('\n')}`;
}

/** Adds a command's own help: what it does in more words, its exit statuses, its environment. */
export function withHelp(
  cmd: Command,
  parts: { about?: string; exit: string; env: readonly string[] },
): Command {
  return cmd.addHelpText(
    'after',
    [parts.about ? `\n${parts.about}` : '', parts.exit, parts.env.length ? envHelp(parts.env) : '']
      .filter(Boolean)
      .join('\n'),
  );
}

/** --url and --api-key, for the commands that talk to a running service. */
export function apiOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'the service (default FPT_URL, or http://localhost:8080)')
    .option('--api-key <key>', 'an API key of the service (default FPT_API_KEY)')
    .addOption(new Option('--key <key>').hideHelp());
}

/** The options of every command that calls the API (`--url`, `--api-key`, `--json`). */
export type ApiOpts = { url?: string; apiKey?: string; key?: string; json: boolean };

export interface ApiTarget {
  url: string;
  key: string;
}

/** Where the service is and which key to use, from the options or the environment. */
export function apiTarget(opts: { url?: string; apiKey?: string; key?: string }): ApiTarget {
  const key = opts.apiKey ?? opts.key ?? nonEmpty(process.env.FPT_API_KEY);
  if (key === undefined) throw new CliError('give an API key with --api-key or FPT_API_KEY', EXIT.usage);
  const url = opts.url ?? nonEmpty(process.env.FPT_URL) ?? 'http://localhost:8080';
  try {
    new URL(url);
  } catch {
    throw new CliError(`--url must be a URL such as http://localhost:8080, got "${url}"`, EXIT.usage);
  }
  return { url, key };
}

const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

/** --json, for scripts: the service's answer as JSON instead of a table. */
export const jsonOption = (cmd: Command) =>
  cmd.option('--json', 'print the JSON answer (for scripts)', false);
