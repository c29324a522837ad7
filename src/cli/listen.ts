import type { Command } from 'commander';
import { startListener, type Listener } from '../listen.js';
import { ApiClient, note, out } from './api-client.js';
import { CliError, EXIT, rootMessage } from './failure.js';
import { apiOptions, exitHelp, portOption, positiveInt, withHelp } from './options.js';
import { parseEventTypes } from './subscriptions.js';

interface ListenOpts {
  secret?: string;
  port: number;
  host: string;
  path: string;
  forwardTo?: string;
  publicUrl?: string;
  events?: string[];
  location?: number;
  organization?: number;
  url?: string;
  apiKey?: string;
  key?: string;
}

const SECRET_FORMAT = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

const ABOUT = `Two ways to use it:
  with an API key (--api-key or FPT_API_KEY): it subscribes itself to the service for as long as it
    runs (a temporary subscription, removed on exit, Ctrl-C included) and prints the signing secret;
  with --secret: it only receives; subscribe the printed URL yourself.
The service must be allowed to deliver to this machine over http://: start it with
FPT_ALLOW_PRIVATE_URLS=1 (local development only). When the service cannot reach --host:--port
directly (another machine, a container), give the address it should use with --public-url.

Each delivery is verified (both signatures) and checked against the event schemas, then printed.
With --forward-to, each verified delivery is POSTed to your app with its body bytes and headers
(signatures included) unchanged, the app's answer is printed and relayed to the service, so a
failing app sees retries as in production (502 when the app cannot be reached). Without it, valid
deliveries get 200. A bad or missing signature gets 401/400 and an invalid body 400.`;

/** `fpt-events listen`: a local receiver, optionally subscribed for the session and forwarding to an app. */
export function listenCommand(program: Command): void {
  withHelp(
    apiOptions(
      program
        .command('listen')
        .description(
          'receive deliveries on this machine: verify and print each one, optionally forward it to the app you are developing (for partners developing locally)',
        )
        .option(
          '-s, --secret <secret>',
          'only receive, verifying with this signing secret, whsec_… (default FPT_WEBHOOK_SECRET)',
        )
        .option(
          '-f, --forward-to <url>',
          'forward each verified delivery to this URL, e.g. http://localhost:3000/hooks',
        )
        .option('-p, --port <port>', 'port to listen on (0: any free port)', portOption, 4000)
        .option('--host <host>', 'address to bind', '127.0.0.1')
        .option('--path <path>', 'the path deliveries are POSTed to', '/')
        .option('--public-url <url>', "the URL the service delivers to, when not this machine's own address")
        .option(
          '--events <types>',
          'temporary subscription: comma-separated event types (default all)',
          parseEventTypes,
        )
        .option(
          '--location <id>',
          "temporary subscription: for this location (default the key's scope)",
          positiveInt('a location id'),
        )
        .option(
          '--organization <id>',
          'temporary subscription: for every location of this organization',
          positiveInt('an organization id'),
        ),
    ),
    {
      about: ABOUT,
      exit: exitHelp([EXIT.ok, EXIT.failed, EXIT.usage, EXIT.unreachable], {
        [EXIT.ok]: 'stopped (Ctrl-C or SIGTERM), the temporary subscription removed',
        [EXIT.failed]:
          'the port cannot be bound, the service refused the subscription, or removing it failed',
        [EXIT.usage]: 'usage error: no secret and no API key, a malformed secret, path or URL',
      }),
      env: ['FPT_WEBHOOK_SECRET', 'FPT_API_KEY', 'FPT_URL'],
    },
  ).action(async (opts: ListenOpts) => {
    const secret = opts.secret ?? nonEmpty(process.env.FPT_WEBHOOK_SECRET);
    const key = opts.apiKey ?? opts.key ?? nonEmpty(process.env.FPT_API_KEY);
    if (secret === undefined && key === undefined) {
      throw new CliError(
        'give an API key (--api-key or FPT_API_KEY) to subscribe for this session, or the secret of your own subscription (--secret or FPT_WEBHOOK_SECRET)',
        EXIT.usage,
      );
    }
    if (secret !== undefined && !SECRET_FORMAT.test(secret)) {
      throw new CliError(
        'the secret must have the form whsec_<base64>, as the subscription showed it',
        EXIT.usage,
      );
    }
    if (!opts.path.startsWith('/')) throw new CliError('--path must start with /', EXIT.usage);
    for (const [name, value] of [
      ['--forward-to', opts.forwardTo],
      ['--public-url', opts.publicUrl],
    ] as const) {
      if (value !== undefined && !/^https?:\/\/[^/]/.test(value)) {
        throw new CliError(`${name} must be an http:// or https:// URL, got "${value}"`, EXIT.usage);
      }
    }
    let listener: Listener;
    try {
      listener = await startListener({
        secret: secret ?? 'whsec_',
        port: opts.port,
        host: opts.host,
        path: opts.path,
        out,
        ...(opts.forwardTo !== undefined ? { forwardTo: opts.forwardTo } : {}),
      });
    } catch (err) {
      throw new CliError(`cannot listen on ${opts.host}:${opts.port}: ${rootMessage(err)}`);
    }
    let cleanup = async () => {};
    if (secret === undefined) {
      try {
        cleanup = await subscribeForSession(listener, opts, key!);
      } catch (err) {
        await listener.close();
        throw err;
      }
    }
    out(`listening for FPT deliveries on ${listener.url} (Ctrl-C to stop)`);
    if (opts.forwardTo !== undefined) out(`forwarding verified deliveries to ${opts.forwardTo}`);
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      cleanup()
        .then(() => listener.close())
        .then(
          () => process.exit(EXIT.ok),
          (err: unknown) => {
            note(`fpt-events: ${err instanceof Error ? err.message : String(err)}`);
            process.exit(err instanceof CliError ? err.exitCode : EXIT.failed);
          },
        );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Creates the session's subscription to the listener; answers how to remove it. */
async function subscribeForSession(
  listener: Listener,
  opts: ListenOpts,
  key: string,
): Promise<() => Promise<void>> {
  const api = new ApiClient({
    url: opts.url ?? nonEmpty(process.env.FPT_URL) ?? 'http://localhost:8080',
    key,
  });
  const target = opts.publicUrl ?? listener.url;
  const sub = await api.post<{ id: string; secret: string }>('/api/subscriptions', {
    url: target,
    description: 'fpt-events listen (temporary: removed when it stops)',
    ...(opts.events ? { eventTypes: opts.events } : {}),
    ...(opts.location !== undefined ? { locationId: opts.location } : {}),
    ...(opts.organization !== undefined ? { organizationId: opts.organization } : {}),
  });
  listener.useSecret(sub.secret);
  out(`subscribed ${target} as ${sub.id} (temporary: removed when this stops)`);
  out(`signing secret for your app: ${sub.secret}`);
  return async () => {
    try {
      await api.delete(`/api/subscriptions/${sub.id}`);
      out(`removed subscription ${sub.id}`);
    } catch (err) {
      throw new CliError(
        `could not remove subscription ${sub.id} (${err instanceof Error ? err.message : String(err)}); delete it with DELETE /api/subscriptions/${sub.id}`,
        err instanceof CliError ? err.exitCode : EXIT.failed,
      );
    }
  };
}

const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
