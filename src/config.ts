export interface Config {
  port: number;
  host: string;
  /** PostgreSQL server; unset means the embedded store in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  adminToken: string | undefined;
  logLevel: string;
  /** Largest JSON body the API reads, in bytes. */
  bodyLimit: number;
  coalesce: CoalesceSettings;
  eventRetentionDays: number;
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

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

export function loadConfig(env: Env = process.env): Config {
  const adminToken = nonEmpty(env, 'FPT_ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('FPT_ADMIN_TOKEN must be at least 16 characters long');
  }
  const databaseUrl = nonEmpty(env, 'DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  return {
    port: intVar(env, 'PORT', 8080, 0, 65535),
    host: nonEmpty(env, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    dataDir: nonEmpty(env, 'FPT_DATA_DIR') ?? './.fpt-data',
    adminToken,
    logLevel: nonEmpty(env, 'LOG_LEVEL') ?? 'info',
    bodyLimit: intVar(env, 'FPT_BODY_LIMIT_BYTES', 1024 * 1024, 1024),
    coalesce: {
      quietMs: intVar(env, 'FPT_COALESCE_QUIET_MS', 5000, 0, 86_400_000),
      maxMs: intVar(env, 'FPT_COALESCE_MAX_MS', 10_000, 0, 86_400_000),
    },
    eventRetentionDays: intVar(env, 'FPT_EVENT_RETENTION_DAYS', 30, 1, 3650),
  };
}
