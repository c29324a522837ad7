import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import type { Db } from '../store/db.js';
import { EXIT } from './failure.js';
import { exitHelp, LOG_ENV, portOption, SERVICE_ENV, TRACING_ENV, withHelp } from './options.js';

const STORE_ENV = ['DATABASE_URL', 'FPT_DATA_DIR'] as const;
const START_EXIT = exitHelp([EXIT.ok, EXIT.failed, EXIT.usage, EXIT.unreachable], {
  [EXIT.ok]: 'stopped cleanly (SIGTERM or SIGINT)',
  [EXIT.failed]: 'could not start (the store cannot be opened, the port cannot be bound) or stop',
  [EXIT.usage]: 'configuration error, or the embedded store is in use by another process',
  [EXIT.unreachable]: 'the database server or the address to bind could not be reached',
});
const ONCE_EXIT = exitHelp([EXIT.ok, EXIT.failed, EXIT.usage, EXIT.unreachable], {
  [EXIT.failed]: 'the store could not be opened or changed',
  [EXIT.usage]: 'configuration error, or the embedded store is in use by another process',
  [EXIT.unreachable]: 'the database server could not be reached',
});

function configFrom(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig(), ...overrides };
}

const loggerFor = (config: Config) => createLogger({ level: config.logLevel, format: config.logFormat });

/** Opens the store (applying pending migrations), runs `fn` with it, and closes it. */
async function withStore(config: Config, log: Logger, fn: (db: Db) => Promise<void>): Promise<void> {
  const { openMigratedDb } = await import('../service.js');
  const db = await openMigratedDb(config, log);
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

/** On SIGTERM or SIGINT: finish what is in flight, close, exit 0. */
function onShutdown(log: Logger, close: () => Promise<void>): void {
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    close().then(
      () => {
        log.info('stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** serve, worker, migrate, reset-operator-key, seal-secrets: the commands that open the store. */
export function serviceCommands(program: Command): void {
  withHelp(
    program
      .command('serve')
      .description('run the API and the background work in one process (migrations are applied first)')
      .option('-p, --port <port>', 'port to listen on (overrides PORT)', portOption)
      .option('--host <host>', 'address to bind (overrides HOST)'),
    {
      exit: START_EXIT,
      env: [
        ...SERVICE_ENV,
        'FPT_ADMIN_TOKEN',
        'FPT_BODY_LIMIT_BYTES',
        'FPT_IMPORT_BODY_LIMIT_BYTES',
        'FPT_RATE_LIMIT_PER_SECOND',
        'FPT_EXPENSIVE_RATE_LIMIT_PER_MINUTE',
        'FPT_AUTH_FAILURES_PER_MINUTE',
        'FPT_SUBSCRIPTIONS_PER_ORGANIZATION',
        'FPT_SUBSCRIPTIONS_PER_APP',
        'FPT_REPLAY_MAX_DELIVERIES',
        'FPT_AUDIT_RETENTION_DAYS',
        'PORT',
        'HOST',
        ...LOG_ENV,
        ...TRACING_ENV,
      ],
    },
  ).action(async (opts: { port?: number; host?: string }) => {
    const config = configFrom({
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.host !== undefined ? { host: opts.host } : {}),
    });
    const log = loggerFor(config);
    const { startService } = await import('../service.js');
    const service = await startService(config, log);
    log.info(
      { url: service.url, portal: `${service.url}/portal/`, engine: service.db.engine },
      'fpt-events is serving',
    );
    onShutdown(log, () => service.close());
  });

  withHelp(
    program
      .command('worker')
      .description(
        'run only the background work (closing windows into events, delivering them, firing time-triggered rules, purging), no API; for scaling out on PostgreSQL',
      ),
    {
      exit: START_EXIT,
      env: [...SERVICE_ENV, 'FPT_ADMIN_TOKEN', 'FPT_METRICS_PORT', 'HOST', ...LOG_ENV, ...TRACING_ENV],
    },
  ).action(async () => {
    const config = configFrom();
    const log = loggerFor(config);
    const { startWorkerProcess } = await import('../service.js');
    const worker = await startWorkerProcess(config, log);
    log.info(
      { engine: worker.db.engine, metrics: worker.metricsUrl, listening: worker.metricsListening },
      'fpt-events worker is running',
    );
    onShutdown(log, () => worker.close());
  });

  withHelp(
    program
      .command('reset-operator-key')
      .description(
        'replace the generated operator key with a new one, printed once; the old one stops working within 5 s in every running process (not with FPT_ADMIN_TOKEN: change that instead)',
      ),
    { exit: ONCE_EXIT, env: [...STORE_ENV, 'FPT_ADMIN_TOKEN'] },
  ).action(async () => {
    const config = configFrom();
    if (config.adminToken !== undefined) {
      throw new ConfigError(
        'the operator key is FPT_ADMIN_TOKEN here: set a new value there and restart the processes',
      );
    }
    // (silent: what it prints on stdout is the key alone)
    const { resetGeneratedAdminKey } = await import('../store/settings.js');
    await withStore(config, createLogger('silent'), async (db) => {
      // recorded in the audit log: from the command line, by whom on which host
      const key = await resetGeneratedAdminKey(db, {
        via: 'cli',
        user: userInfo().username,
        host: hostname(),
      });
      process.stdout.write(`${key}\n`);
      process.stderr.write('the new operator key is above; it is shown only this once\n');
    });
  });

  withHelp(
    program
      .command('seal-secrets')
      .description(
        "seal every endpoint signing secret still stored in clear, under another key, or in the format before secrets were bound to their subscription, with FPT_SECRETS_KEY's first key (AES-256-GCM; the embedded store's own key in its data folder when FPT_SECRETS_KEY is not set); safe to run while the service runs, and again",
      ),
    { exit: ONCE_EXIT, env: [...STORE_ENV, 'FPT_SECRETS_KEY', ...LOG_ENV] },
  ).action(async () => {
    const config = configFrom();
    if (config.delivery.secretsKeys === undefined && config.databaseUrl !== undefined) {
      throw new ConfigError('seal-secrets needs FPT_SECRETS_KEY with PostgreSQL (DATABASE_URL)');
    }
    const log = loggerFor(config);
    const [{ withSecretsSealing }, { SecretBox }, { resealSecrets }] = await Promise.all([
      import('../secrets-at-rest.js'),
      import('../delivery/secret-box.js'),
      import('../store/subscriptions.js'),
    ]);
    await withStore(config, log, async (db) => {
      // the embedded store's own key when FPT_SECRETS_KEY is not set
      const keys = (await withSecretsSealing(db, config, log)).delivery.secretsKeys;
      if (keys === undefined) throw new ConfigError('seal-secrets needs FPT_SECRETS_KEY');
      const box = new SecretBox(keys);
      const n = await resealSecrets(db, (stored, subscriptionId) => box.reseal(stored, subscriptionId));
      process.stdout.write(`sealed ${n} signing secret${n === 1 ? '' : 's'}\n`);
    });
  });

  withHelp(
    program
      .command('migrate')
      .description('apply pending database migrations and exit (serve does this too, at start)'),
    { exit: ONCE_EXIT, env: [...STORE_ENV, ...LOG_ENV] },
  ).action(async () => {
    const config = configFrom();
    await withStore(config, loggerFor(config), async () => {});
  });
}
