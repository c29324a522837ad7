import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, RunningCli, runCli } from '../helpers/cli.js';
import { seededDataDir } from '../helpers/embedded-data-dir.js';

const OPERATOR = 'test-operator-key-0123456789';

/** The partner's app under development: a real local HTTP server that keeps what it gets. */
class App {
  readonly got: { headers: IncomingHttpHeaders; raw: string }[] = [];
  private waiters: (() => void)[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(answer: { status: number; body: string }): Promise<App> {
    const holder: { app?: App } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const app = holder.app!;
        app.got.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
        for (const w of app.waiters.splice(0)) w();
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.app = new App(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`);
    return holder.app;
  }

  /** The first request whose event type is `type`, once it has come. */
  received(type: string): Promise<{ headers: IncomingHttpHeaders; raw: string }> {
    return new Promise((resolve) => {
      const check = () => {
        const hit = this.got.find((r) => r.headers['x-fpt-event-type'] === type);
        if (hit) resolve(hit);
        else this.waiters.push(check);
      };
      check();
    });
  }

  close = () => new Promise<void>((resolve) => this.server.close(() => resolve()));
}

// Each command is a child process (through tsx, a second or more each on a loaded machine).
const SLOW = 180_000;

describe('the API commands against a real service', () => {
  let dir: string;
  let service: RunningCli;
  let url: string;
  let staffKey: string;
  let env: NodeJS.ProcessEnv;

  const asOperator = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return (await res.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fpt-cli-api-'));
    await seededDataDir(join(dir, 'data'));
    const serviceEnv: NodeJS.ProcessEnv = {
      ...process.env,
      FPT_DATA_DIR: join(dir, 'data'),
      HOST: '127.0.0.1',
      PORT: '0',
      FPT_ADMIN_TOKEN: OPERATOR,
      // the service may deliver to this machine over http://, as local development needs
      FPT_ALLOW_PRIVATE_URLS: '1',
      FPT_COALESCE_QUIET_MS: '50',
      FPT_COALESCE_MAX_MS: '200',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
    };
    delete serviceEnv.DATABASE_URL;
    service = RunningCli.start(['serve'], serviceEnv);
    url = (await service.lineMatching(/"url":"([^"]+)".*"fpt-events is serving"/))[1]!;
    const org = await asOperator('POST', '/api/organizations', { name: 'Iron Temple' });
    const loc = await asOperator('POST', '/api/locations', { name: 'Downtown', organizationId: org.id });
    staffKey = String((await asOperator('POST', '/api/api-keys', { role: 'staff', locationId: loc.id })).key);
    env = { ...process.env, FPT_URL: url, FPT_API_KEY: staffKey };
    delete env.FPT_WEBHOOK_SECRET;
  }, 60_000);

  afterAll(async () => {
    service.child.kill('SIGTERM');
    await service.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    'listen --forward-to subscribes itself, forwards a triggered event byte for byte with its signatures, prints the app answer, and unsubscribes on Ctrl-C',
    async () => {
      const app = await App.start({ status: 200, body: '{"handled":true}' });
      try {
        const listen = RunningCli.start(['listen', '--forward-to', app.url, '--port', '0'], env);
        const secret = (await listen.lineMatching(/signing secret for your app: (whsec_\S+)/))[1]!;
        const subId = (await listen.lineMatching(/as (sub_\w+) \(temporary/))[1]!;
        await listen.lineMatching(/forwarding verified deliveries to/);

        const trigger = await runCli(['trigger', 'contact.status_changed'], env);
        expect(trigger.stderr).toContain('triggered contact.status_changed on contact');
        expect(trigger.code).toBe(0);
        expect(trigger.stdout).toMatch(
          /contact\.status_changed\s+contact \d+\s+Leads \(1\) → Prospects \(2\)/,
        );

        const got = await app.received('contact.status_changed');
        // the app verifies the delivery itself, with the printed secret: bytes and signatures unchanged
        const event = new Webhook(secret).verify(got.raw, {
          'webhook-id': String(got.headers['webhook-id']),
          'webhook-timestamp': String(got.headers['webhook-timestamp']),
          'webhook-signature': String(got.headers['webhook-signature']),
        }) as { eventType: string; data: { newStatusId: number } };
        expect(event).toMatchObject({ eventType: 'contact.status_changed', data: { newStatusId: 2 } });
        expect(got.headers['x-fpt-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
        expect(got.headers['x-fpt-window-id']).toEqual(expect.any(String));
        await listen.lineMatching(/✓ contact\.status_changed/);
        await listen.lineMatching(/→ app 200 in \d+ ms {2}\{"handled":true\}/);

        listen.child.kill('SIGINT');
        expect(await listen.exited).toBe(0);
        expect(listen.lines).toContain(`removed subscription ${subId}`);
        const subs = (await asOperator('GET', '/api/subscriptions')) as { data: { id: string }[] };
        expect(subs.data.map((s) => s.id)).not.toContain(subId);
      } finally {
        await app.close();
      }
    },
    SLOW,
  );

  test(
    'subscriptions, deliveries, replay and events tail: tables for people, --json for scripts',
    async () => {
      const app = await App.start({ status: 200, body: 'ok' });
      try {
        const created = await runCli(
          [
            'subscriptions',
            'create',
            '--endpoint',
            app.url,
            '--events',
            'contact.created,contact.updated',
            '--json',
          ],
          env,
        );
        expect(created.code).toBe(0);
        const sub = JSON.parse(created.stdout) as { id: string; secret: string };
        expect(sub.secret).toMatch(/^whsec_/);

        const list = await runCli(['subscriptions', 'list'], env);
        expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+SCOPE\s+EVENTS\s+URL$/);
        expect(list.stdout).toMatch(
          new RegExp(`${sub.id}\\s+active\\s+location \\d+\\s+contact.created,contact.updated\\s+${app.url}`),
        );

        const tested = await runCli(
          ['subscriptions', 'test', sub.id, '--event-type', 'contact.created'],
          env,
        );
        expect(tested.code).toBe(0);
        const deliveryId = /as delivery (dlv_\w+)/.exec(tested.stdout)![1]!;
        await app.received('contact.created');

        const shown = await runCli(['deliveries', 'show', deliveryId, '--json'], env);
        expect(JSON.parse(shown.stdout)).toMatchObject({ id: deliveryId, isTest: true });
        const table = await runCli(['deliveries', 'list', sub.id], env);
        expect(table.stdout).toMatch(new RegExp(`${deliveryId}\\s+\\w+\\s+contact.created \\(test\\)`));

        const retried = await runCli(['deliveries', 'retry', deliveryId], env);
        expect(retried.stdout).toBe(`${deliveryId} queued: it is sent now\n`);

        const rotated = await runCli(['subscriptions', 'rotate-secret', sub.id, '--overlap-hours', '1'], env);
        expect(rotated.stdout).toMatch(
          /^new signing secret \(shown only this once\): whsec_\S+\nthe previous secret keeps signing until \d{4}-/,
        );

        const triggered = await runCli(['trigger', 'contact.created', '--json'], env);
        expect(triggered.code).toBe(0);
        const event = JSON.parse(triggered.stdout) as { eventId: string; data: { contactId: number } };
        const replayed = await runCli(['replay', sub.id, '--since', '1h', '--json'], env);
        const counts = JSON.parse(replayed.stdout) as { queued: number; requeued: number; created: number };
        expect(counts.queued).toBe(counts.requeued + counts.created);

        const tail = await runCli(
          ['events', 'tail', '--all', '--no-follow', '--json', '--type', 'contact.created'],
          env,
        );
        expect(tail.code).toBe(0);
        const tailed = tail.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { eventId: string });
        expect(tailed.map((e) => e.eventId)).toContain(event.eventId);
        expect(tail.stderr).toMatch(/stopped at cursor (\d+) \(resume with --after \1\)/);
      } finally {
        await app.close();
      }
    },
    SLOW,
  );

  test(
    'events tail follows new events until Ctrl-C',
    async () => {
      const tail = RunningCli.start(['events', 'tail', '--interval', '50'], env);
      await tail.lineMatching(/following new events after cursor/);
      const triggered = await runCli(['trigger', 'contact.updated', '--json'], env);
      const event = JSON.parse(triggered.stdout) as { eventId: string };
      await tail.lineMatching(new RegExp(`contact\\.updated .*event ${event.eventId}`));
      tail.child.kill('SIGINT');
      expect(await tail.exited).toBe(0);
    },
    SLOW,
  );

  test(
    'every failure is one line with its documented exit status',
    async () => {
      const missing = await runCli(['deliveries', 'show', `dlv_${'0'.repeat(32)}`], env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^fpt-events: GET \/api\/deliveries\/dlv_0+ → 404 not_found: .+\n$/);

      const closed = await freePort();
      const unreachable = await runCli(['subscriptions', 'list', '--url', `http://127.0.0.1:${closed}`], env);
      expect(unreachable.code).toBe(4);
      expect(unreachable.stderr).toBe(
        `fpt-events: cannot reach the service at http://127.0.0.1:${closed}: connect ECONNREFUSED 127.0.0.1:${closed}\n`,
      );

      const noKey = await runCli(['events', 'tail'], { ...env, FPT_API_KEY: '' });
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toBe('fpt-events: give an API key with --api-key or FPT_API_KEY\n');

      const badType = await runCli(['trigger', 'contact.exploded'], env);
      expect(badType.code).toBe(2);
      expect(badType.stderr.trim().split('\n')[0]).toContain('unknown event type "contact.exploded"');
    },
    SLOW,
  );
});
