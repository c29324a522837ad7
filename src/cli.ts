#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { DataDirInUse } from './store/data-dir-lock.js';
import { resetGeneratedAdminKey } from './store/settings.js';
import { resealSecrets } from './store/subscriptions.js';
import { SecretBox } from './delivery/secret-box.js';
import { runImport } from './import-cli.js';
import { startListener } from './listen.js';
import { openMigratedDb, startService, startWorkerProcess } from './service.js';

function portOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

function configFrom(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig(), ...overrides };
}

const ENVIRONMENT_HELP = `
Environment:
  DATABASE_URL        postgres://… to use a PostgreSQL server (shared by any number of processes);
                      unset: the embedded store in FPT_DATA_DIR
  FPT_DATA_DIR        the embedded store's folder (default ./.fpt-data)
  FPT_ADMIN_TOKEN     the operator key (default: generated on first start, printed once)
  FPT_COALESCE_QUIET_MS, FPT_COALESCE_MAX_MS
                      a contact's window closes at min(last change + quiet, first change + max)
                      (default 5000 and 10000)
  FPT_EVENT_RETENTION_DAYS  how long events stay in the pull API (default 30)
  FPT_RETRY_SCHEDULE  delays between delivery attempts (default 5s,5m,30m,2h,5h,10h,10h)
  FPT_DELIVERY_TIMEOUT_MS   how long an endpoint has to answer (default 30000)
  FPT_ALLOW_PRIVATE_URLS    1: accept http:// and private addresses (local testing only)
  FPT_DELIVERY_CONCURRENCY, FPT_DELIVERY_CONCURRENCY_PER_SUBSCRIPTION
                      requests in flight per process, and to one subscription (default 512, 64)
  FPT_SECRET_OVERLAP_HOURS  how long a rotated-out secret keeps signing (default 24)
  FPT_WORKER_DEAD_AFTER_MS  PostgreSQL: a process silent this long is dead, others send what it
                      held (default 30000)
  FPT_SECRETS_KEY     base64 of 32 bytes: endpoint signing secrets are stored sealed with it
                      (AES-256-GCM); several, comma-separated: the first seals, all open
  FPT_METRICS_TOKEN   a token that may read /metrics besides the operator key (16+ characters)
  FPT_METRICS_PORT    worker: serve /metrics, /healthz and /readyz on this port, on HOST
  PORT, HOST          where the API listens (default 8080 on 0.0.0.0)
  LOG_LEVEL           trace, debug, info, warn, error, fatal or silent (default info)
  LOG_FORMAT          pretty (readable lines) or json (default: pretty at a terminal, json otherwise)`;

/** Opens the store (applying pending migrations), runs `fn` with it, and closes it. */
async function withStore(
  config: Config,
  log: ReturnType<typeof createLogger>,
  fn: (db: Awaited<ReturnType<typeof openMigratedDb>>) => Promise<void>,
): Promise<void> {
  const db = await openMigratedDb(config, log);
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

/** On SIGTERM or SIGINT: finish what is in flight, close, exit 0. */
function onShutdown(log: ReturnType<typeof createLogger>, close: () => Promise<void>): void {
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

const program = new Command()
  .name('fpt-events')
  .description('Contact history, coalesced contact events and signed webhook delivery for FPT')
  .showHelpAfterError()
  .addHelpText('after', ENVIRONMENT_HELP);

program
  .command('serve')
  .description('run the API and the background work in one process (migrations are applied first)')
  .option('-p, --port <port>', 'port to listen on (overrides PORT)', portOption)
  .option('--host <host>', 'address to bind (overrides HOST)')
  .addHelpText('after', ENVIRONMENT_HELP)
  .action(async (opts: { port?: number; host?: string }) => {
    const config = configFrom({
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.host !== undefined ? { host: opts.host } : {}),
    });
    const log = createLogger({ level: config.logLevel, format: config.logFormat });
    const service = await startService(config, log);
    log.info({ url: service.url, engine: service.db.engine }, 'fpt-events is serving');
    onShutdown(log, () => service.close());
  });

program
  .command('worker')
  .description(
    'run only the background work (closing windows into events, delivering them, firing time-triggered rules, purging), no API; for scaling out on PostgreSQL',
  )
  .addHelpText('after', ENVIRONMENT_HELP)
  .action(async () => {
    const config = configFrom();
    const log = createLogger({ level: config.logLevel, format: config.logFormat });
    const worker = await startWorkerProcess(config, log);
    log.info(
      { engine: worker.db.engine, metrics: worker.metricsUrl, listening: worker.metricsListening },
      'fpt-events worker is running',
    );
    onShutdown(log, () => worker.close());
  });

program
  .command('import')
  .description(
    'send a CSV or JSON file of contacts to a running service and apply it (create or update, per-row errors)',
  )
  .argument(
    '<file>',
    'a .csv file (header of field names, customFields.<name> columns) or a .json file (an array of contacts)',
  )
  .requiredOption('-l, --location <id>', 'the location to import into', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a location id');
    return n;
  })
  .option('--deactivate-missing', "deactivate the location's active contacts that no row names", false)
  .option('--url <url>', 'the service (default FPT_URL, or http://localhost:$PORT)')
  .option('--key <key>', 'a staff API key (default FPT_API_KEY)')
  .addHelpText(
    'after',
    '\nExit status: 0 every row applied, 3 some rows rejected (they are listed), 1 the import was refused.',
  )
  .action(
    async (
      file: string,
      opts: { location: number; deactivateMissing: boolean; url?: string; key?: string },
    ) => {
      const key = opts.key ?? process.env.FPT_API_KEY;
      if (!key) throw new ConfigError('give a staff API key with --key or FPT_API_KEY');
      const url = opts.url ?? process.env.FPT_URL ?? `http://localhost:${loadConfig().port}`;
      process.exitCode = await runImport({
        file,
        location: opts.location,
        url,
        key,
        deactivateMissing: opts.deactivateMissing,
        progress: (line) => process.stderr.write(`${line}\n`),
        out: (line) => process.stdout.write(`${line}\n`),
      });
    },
  );

program
  .command('listen')
  .description(
    'run a local webhook receiver that verifies each delivery with a secret and prints it readably (for partners developing locally)',
  )
  .option('-s, --secret <secret>', "the subscription's signing secret, whsec_… (default FPT_WEBHOOK_SECRET)")
  .option('-p, --port <port>', 'port to listen on', portOption, 4000)
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .option('--path <path>', 'the path deliveries are POSTed to', '/')
  .addHelpText(
    'after',
    `
Subscribe the printed URL (the service needs FPT_ALLOW_PRIVATE_URLS=1 to deliver to http:// and
localhost). Valid deliveries are answered 200; a bad or missing signature 401/400 and an invalid body
400, so the service retries them. Each line shows the event type, the contact, previous → new, the
window id, and which signatures verified (fpt, standard).

Environment:
  FPT_WEBHOOK_SECRET  the secret, when --secret is not given`,
  )
  .action(async (opts: { secret?: string; port: number; host: string; path: string }) => {
    const secret = opts.secret ?? process.env.FPT_WEBHOOK_SECRET;
    if (!secret) throw new ConfigError('give the subscription secret with --secret or FPT_WEBHOOK_SECRET');
    if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) {
      throw new ConfigError('the secret must have the form whsec_<base64>, as the subscription showed it');
    }
    if (!opts.path.startsWith('/')) throw new ConfigError('--path must start with /');
    const out = (text: string) => process.stdout.write(`${text}\n`);
    const listener = await startListener({ secret, port: opts.port, host: opts.host, path: opts.path, out });
    out(`listening for FPT deliveries on ${listener.url} (Ctrl-C to stop)`);
    const stop = () => {
      listener.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program
  .command('reset-operator-key')
  .description(
    'replace the generated operator key with a new one, printed once; the old one stops working within 5 s in every running process (not with FPT_ADMIN_TOKEN: change that instead)',
  )
  .addHelpText('after', ENVIRONMENT_HELP)
  .action(async () => {
    const config = configFrom();
    if (config.adminToken !== undefined) {
      throw new ConfigError(
        'the operator key is FPT_ADMIN_TOKEN here: set a new value there and restart the processes',
      );
    }
    // (silent: what it prints on stdout is the key alone)
    await withStore(config, createLogger('silent'), async (db) => {
      const key = await resetGeneratedAdminKey(db);
      process.stdout.write(`${key}\n`);
      process.stderr.write('the new operator key is above; it is shown only this once\n');
    });
  });

program
  .command('seal-secrets')
  .description(
    "seal every endpoint signing secret still stored in clear, or under another key, with FPT_SECRETS_KEY's first key (AES-256-GCM); safe to run while the service runs, and again",
  )
  .addHelpText('after', ENVIRONMENT_HELP)
  .action(async () => {
    const config = configFrom();
    const keys = config.delivery.secretsKeys;
    if (keys === undefined) throw new ConfigError('seal-secrets needs FPT_SECRETS_KEY');
    await withStore(
      config,
      createLogger({ level: config.logLevel, format: config.logFormat }),
      async (db) => {
        const box = new SecretBox(keys);
        const n = await resealSecrets(db, (stored) => box.reseal(stored));
        process.stdout.write(`sealed ${n} signing secret${n === 1 ? '' : 's'}\n`);
      },
    );
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit (serve does this too, at start)')
  .addHelpText('after', ENVIRONMENT_HELP)
  .action(async () => {
    const config = configFrom();
    await withStore(
      config,
      createLogger({ level: config.logLevel, format: config.logFormat }),
      async () => {},
    );
  });

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`fpt-events: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof DataDirInUse) {
    process.stderr.write(`fpt-events: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`fpt-events: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
