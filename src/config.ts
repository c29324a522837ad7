import { DEFAULT_RETRY_SCHEDULE, parseRetrySchedule } from './delivery/policy.js';
import { parseSecretsKeys } from './delivery/secret-box.js';
import { DEFAULT_HEAP_GROWING_PERCENT } from './heap.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat } from './log.js';
import { tracingSettings, type TracingSettings } from './tracing/settings.js';

export interface Config {
  port: number;
  host: string;
  /** PostgreSQL server; unset means the embedded store in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  adminToken: string | undefined;
  /** A token that may read `/metrics` (besides the operator key), for a Prometheus scraper. */
  metricsToken: string | undefined;
  /** Where a `worker` process serves `/metrics` and `/healthz` (none when unset). */
  metricsPort: number | undefined;
  logLevel: string;
  /** `pretty` (readable lines) or `json` (one object per line) */
  logFormat: LogFormat;
  /** Largest JSON body the API reads, in bytes. */
  bodyLimit: number;
  /** Largest JSON body of a bulk import, in bytes. */
  importBodyLimit: number;
  coalesce: CoalesceSettings;
  eventRetentionDays: number;
  /** retention of everything else that grows (docs/design.md, "Partitioned retention") */
  retention: RetentionSettings;
  /** how long audit-log entries are kept (`FPT_AUDIT_RETENTION_DAYS`) */
  auditRetentionDays: number;
  /** how often the maintenance loop checks the queue's tables (`FPT_MAINTENANCE_EVERY_MS`) */
  maintenanceEveryMs: number;
  delivery: DeliverySettings;
  rateLimits: RateLimitSettings;
  quotas: QuotaSettings;
  embedded: EmbeddedOptions;
  /** OpenTelemetry traces (the standard `OTEL_*` variables); undefined: off */
  tracing: TracingSettings | undefined;
  /** V8's heap growing factor, in percent over the live data (`FPT_HEAP_GROWING_PERCENT`; 0: V8's own) */
  heapGrowingPercent: number;
}

/** How long what grows is kept, besides events (`eventRetentionDays`) and the audit log. */
export interface RetentionSettings {
  /** how long each partition of events, deliveries and attempts takes writes (`FPT_PARTITION_DAYS`) */
  partitionDays: number;
  /** test deliveries and their attempts (`FPT_TEST_DELIVERY_RETENTION_DAYS`) */
  testDeliveryDays: number;
  /** contact history (`FPT_HISTORY_RETENTION_DAYS`); undefined: kept */
  historyDays: number | undefined;
}

/** Request rate limits, per process (docs/api.md, "Rate limits"); 0 turns one off. */
export interface RateLimitSettings {
  /** requests a second per API key (and for the operator key), with a burst of twice that */
  perSecond: number;
  /** expensive actions (test events, replays, imports, secret rotations) a minute per key, as a burst too */
  expensivePerMinute: number;
  /** failed authentications a minute per client address, as a burst too */
  authFailuresPerMinute: number;
}

/** Limits on what a tenant may hold or ask for at once (docs/api.md, "Quotas"). */
export interface QuotaSettings {
  subscriptionsPerOrganization: number;
  subscriptionsPerApp: number;
  /** the most deliveries one replay may queue */
  replayMaxDeliveries: number;
}

/** The embedded engine's memory (src/store/pglite.ts; docs/design.md). */
export interface EmbeddedOptions {
  /** PostgreSQL settings over the engine's own (`EMBEDDED_SETTINGS`) */
  settings: Record<string, string>;
  /** let V8 recompile the engine's hot WebAssembly with its optimizing compiler (`wasmOptimize`) */
  wasmOptimize: boolean;
  /**
   * whether the C heap gives large freed blocks back to the system (`MALLOC_MMAP_THRESHOLD_` set):
   * what keeps the optimizing compiler's memory from staying with the process (docs/design.md,
   * "The embedded engine's memory")
   */
  heapReturnsCompilerMemory: boolean;
}

export interface DeliverySettings {
  /** delays before the 2nd, 3rd, … attempt; when they run out the delivery has failed */
  retryScheduleMs: number[];
  timeoutMs: number;
  /** accept http:// and private, loopback and link-local endpoints (local testing only) */
  allowPrivateUrls: boolean;
  /** requests in flight per process */
  concurrency: number;
  /** requests in flight per process to one subscription: one slow endpoint cannot take them all */
  perSubscription: number;
  /**
   * requests in flight per process for one organization (all its subscriptions), whatever its fair
   * share: one tenant cannot take the whole process even while nobody else is sending
   */
  perOrganization: number;
  /** how long the previous secret keeps signing after a rotation */
  secretOverlapMs: number;
  /**
   * A worker sharing PostgreSQL whose heartbeat is this old is dead, and its leased deliveries are
   * taken over; workers renew theirs every sixth of it.
   */
  deadAfterMs: number;
  /**
   * Keys that seal signing secrets at rest (`FPT_SECRETS_KEY`): the first seals, all open. None:
   * secrets are stored as they are.
   */
  secretsKeys: Buffer[] | undefined;
}

/** A window closes at min(lastChange + quietMs, firstChange + maxMs). */
export interface CoalesceSettings {
  quietMs: number;
  maxMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function intVar(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

/** A yes/no setting (unset: no); `accepted` is what the error says it may be. */
function flag(env: Env, name: string, accepted = '1 or 0'): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (v === undefined || v === '' || v === '0' || v === 'false' || v === 'no') return false;
  if (v === '1' || v === 'true' || v === 'yes') return true;
  throw new ConfigError(`${name} must be ${accepted}, got "${env[name]}"`);
}

function schedule(env: Env, name: string): number[] {
  try {
    return parseRetrySchedule(nonEmpty(env, name) ?? DEFAULT_RETRY_SCHEDULE);
  } catch (err) {
    throw new ConfigError(`${name}: ${(err as Error).message}`);
  }
}

function tracing(env: Env): TracingSettings | undefined {
  try {
    return tracingSettings(env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function secretsKeys(env: Env): Buffer[] | undefined {
  const raw = nonEmpty(env, 'FPT_SECRETS_KEY');
  if (raw === undefined) return undefined;
  try {
    return parseSecretsKeys(raw);
  } catch (err) {
    throw new ConfigError(`FPT_SECRETS_KEY: ${(err as Error).message}`);
  }
}

// --- the embedded engine's memory (docs/design.md, "The embedded engine's memory") ---

/** A size as PostgreSQL reads it, with its unit: 512kB, 16MB, 1GB. */
const SIZE = /^(\d+)(kB|MB|GB)$/;
const KB: Record<string, number> = { kB: 1, MB: 1024, GB: 1024 * 1024 };

/** The `FPT_EMBEDDED_*` variable of each setting an operator may size, and its bounds in kB. */
const EMBEDDED_SIZES = [
  // the WebAssembly heap stops at 2 GB: the buffer cache has to fit in it beside everything else
  { name: 'FPT_EMBEDDED_SHARED_BUFFERS', setting: 'shared_buffers', minKb: 128, maxKb: 1024 * 1024 },
  { name: 'FPT_EMBEDDED_WORK_MEM', setting: 'work_mem', minKb: 64, maxKb: 256 * 1024 },
  {
    name: 'FPT_EMBEDDED_MAINTENANCE_WORK_MEM',
    setting: 'maintenance_work_mem',
    minKb: 1024,
    maxKb: 1024 * 1024,
  },
] as const;

function sizeVar(env: Env, name: string, minKb: number, maxKb: number): string | undefined {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return undefined;
  const m = SIZE.exec(raw);
  const kb = m ? Number(m[1]) * KB[m[2]!]! : NaN;
  if (!(kb >= minKb && kb <= maxKb)) {
    throw new ConfigError(
      `${name} must be a size with its unit (kB, MB or GB) from ${minKb}kB to ${maxKb / 1024}MB, got "${raw}"`,
    );
  }
  return raw;
}

/**
 * The embedded engine's settings from the environment: the sizes above, then any PostgreSQL
 * setting passed through `FPT_EMBEDDED_PG_SETTINGS` as `name=value` pairs separated by commas
 * (a pair there wins over the variable of the same setting).
 */
function embeddedOptions(env: Env): EmbeddedOptions {
  const out: Record<string, string> = {};
  for (const s of EMBEDDED_SIZES) {
    const v = sizeVar(env, s.name, s.minKb, s.maxKb);
    if (v !== undefined) out[s.setting] = v;
  }
  const raw = nonEmpty(env, 'FPT_EMBEDDED_PG_SETTINGS');
  for (const pair of raw === undefined ? [] : raw.split(',')) {
    const m = /^\s*([a-z][a-z0-9_.]*)\s*=\s*(\S(?:.*\S)?)\s*$/.exec(pair);
    if (!m) {
      throw new ConfigError(
        `FPT_EMBEDDED_PG_SETTINGS must be name=value pairs separated by commas (work_mem=8MB,max_wal_size=256MB), got "${pair.trim()}"`,
      );
    }
    out[m[1]!] = m[2]!;
  }
  const heapReturnsCompilerMemory = mallocReturnsLargeBlocks(env);
  return {
    settings: out,
    wasmOptimize: wasmOptimize(env, heapReturnsCompilerMemory),
    heapReturnsCompilerMemory,
  };
}

/**
 * Whether glibc's allocator hands every large block to the system on its own (`mmap`) and back on
 * free: with `MALLOC_MMAP_THRESHOLD_` (or its tunable) set, the threshold stays where it is set;
 * by default it rises after the first such block is freed, and the optimizing compiler's large
 * scratch blocks then stay in the heap for good (BENCHMARKS.md, "Session 15"). Set by the operator:
 * it has a cost of its own (README, "Configuration").
 */
function mallocReturnsLargeBlocks(env: Env): boolean {
  return (
    nonEmpty(env, 'MALLOC_MMAP_THRESHOLD_') !== undefined ||
    /glibc\.malloc\.mmap_threshold=/.test(env.GLIBC_TUNABLES ?? '')
  );
}

/**
 * `FPT_EMBEDDED_WASM_OPTIMIZE`: 1 or 0 as set; unset or `auto`, on exactly when the C heap gives
 * the compiler's memory back (the operator set `MALLOC_MMAP_THRESHOLD_`), so that the faster code
 * never costs the idle memory target.
 */
function wasmOptimize(env: Env, heapReturnsCompilerMemory: boolean): boolean {
  const v = nonEmpty(env, 'FPT_EMBEDDED_WASM_OPTIMIZE')?.toLowerCase();
  if (v === undefined || v === 'auto') return heapReturnsCompilerMemory;
  return flag(env, 'FPT_EMBEDDED_WASM_OPTIMIZE', '1, 0 or auto');
}

// --- end of the embedded engine's memory ---

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/**
 * A window closes at min(last change + quiet, first change + max): a quiet period longer than the
 * maximum would never be reached, so the setting would silently mean nothing; it is refused.
 */
function coalesceSettings(env: Env): CoalesceSettings {
  const quietMs = intVar(env, 'FPT_COALESCE_QUIET_MS', 5000, 0, 86_400_000);
  const maxMs = intVar(env, 'FPT_COALESCE_MAX_MS', 10_000, 0, 86_400_000);
  if (quietMs > maxMs) {
    throw new ConfigError(
      `FPT_COALESCE_QUIET_MS (${quietMs}) must not exceed FPT_COALESCE_MAX_MS (${maxMs}): a window closes at the first of the two`,
    );
  }
  return { quietMs, maxMs };
}

/** LOG_LEVEL and LOG_FORMAT: readable lines at a terminal, JSON lines for a collector. */
function logSettings(env: Env, stdoutIsTTY: boolean): { logLevel: string; logFormat: LogFormat } {
  const logLevel = nonEmpty(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const format = nonEmpty(env, 'LOG_FORMAT') ?? (stdoutIsTTY ? 'pretty' : 'json');
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new ConfigError(`LOG_FORMAT must be ${LOG_FORMATS.join(' or ')}, got "${format}"`);
  }
  return { logLevel, logFormat: format as LogFormat };
}

export function loadConfig(
  env: Env = process.env,
  { stdoutIsTTY = process.stdout.isTTY === true }: { stdoutIsTTY?: boolean } = {},
): Config {
  const adminToken = nonEmpty(env, 'FPT_ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('FPT_ADMIN_TOKEN must be at least 16 characters long');
  }
  const metricsToken = nonEmpty(env, 'FPT_METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new ConfigError('FPT_METRICS_TOKEN must be at least 16 characters long');
  }
  const databaseUrl = nonEmpty(env, 'DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const coalesce = coalesceSettings(env);
  return {
    port: intVar(env, 'PORT', 8080, 0, 65535),
    host: nonEmpty(env, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    dataDir: nonEmpty(env, 'FPT_DATA_DIR') ?? './.fpt-data',
    adminToken,
    metricsToken,
    // (0: any free port, as PORT)
    metricsPort:
      nonEmpty(env, 'FPT_METRICS_PORT') === undefined
        ? undefined
        : intVar(env, 'FPT_METRICS_PORT', 0, 0, 65535),
    ...logSettings(env, stdoutIsTTY),
    bodyLimit: intVar(env, 'FPT_BODY_LIMIT_BYTES', 1024 * 1024, 1024),
    importBodyLimit: intVar(env, 'FPT_IMPORT_BODY_LIMIT_BYTES', 64 * 1024 * 1024, 1024),
    coalesce,
    eventRetentionDays: intVar(env, 'FPT_EVENT_RETENTION_DAYS', 30, 1, 3650),
    auditRetentionDays: intVar(env, 'FPT_AUDIT_RETENTION_DAYS', 365, 1, 36500),
    maintenanceEveryMs: intVar(env, 'FPT_MAINTENANCE_EVERY_MS', 10_000, 1000, 3_600_000),
    retention: {
      partitionDays: intVar(env, 'FPT_PARTITION_DAYS', 1, 1, 30),
      testDeliveryDays: intVar(env, 'FPT_TEST_DELIVERY_RETENTION_DAYS', 7, 1, 3650),
      historyDays:
        nonEmpty(env, 'FPT_HISTORY_RETENTION_DAYS') === undefined
          ? undefined
          : intVar(env, 'FPT_HISTORY_RETENTION_DAYS', 0, 1, 36500),
    },
    rateLimits: {
      perSecond: intVar(env, 'FPT_RATE_LIMIT_PER_SECOND', 1000, 0, 1_000_000),
      expensivePerMinute: intVar(env, 'FPT_EXPENSIVE_RATE_LIMIT_PER_MINUTE', 20, 0, 100_000),
      authFailuresPerMinute: intVar(env, 'FPT_AUTH_FAILURES_PER_MINUTE', 30, 0, 100_000),
    },
    quotas: {
      subscriptionsPerOrganization: intVar(env, 'FPT_SUBSCRIPTIONS_PER_ORGANIZATION', 50, 1, 1_000_000),
      subscriptionsPerApp: intVar(env, 'FPT_SUBSCRIPTIONS_PER_APP', 50, 1, 1_000_000),
      replayMaxDeliveries: intVar(env, 'FPT_REPLAY_MAX_DELIVERIES', 100_000, 1, 100_000_000),
    },
    delivery: {
      retryScheduleMs: schedule(env, 'FPT_RETRY_SCHEDULE'),
      timeoutMs: intVar(env, 'FPT_DELIVERY_TIMEOUT_MS', 30_000, 100, 600_000),
      allowPrivateUrls: flag(env, 'FPT_ALLOW_PRIVATE_URLS'),
      concurrency: intVar(env, 'FPT_DELIVERY_CONCURRENCY', 512, 1, 10_000),
      perSubscription: intVar(env, 'FPT_DELIVERY_CONCURRENCY_PER_SUBSCRIPTION', 64, 1, 1000),
      perOrganization: intVar(env, 'FPT_DELIVERY_CONCURRENCY_PER_ORGANIZATION', 256, 1, 10_000),
      secretOverlapMs: intVar(env, 'FPT_SECRET_OVERLAP_HOURS', 24, 0, 24 * 30) * 3_600_000,
      deadAfterMs: intVar(env, 'FPT_WORKER_DEAD_AFTER_MS', 30_000, 1000, 3_600_000),
      secretsKeys: secretsKeys(env),
    },
    embedded: embeddedOptions(env),
    tracing: tracing(env),
    heapGrowingPercent: intVar(env, 'FPT_HEAP_GROWING_PERCENT', DEFAULT_HEAP_GROWING_PERCENT, 0, 1000),
  };
}
