import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, test } from 'vitest';
import { signatureHeaders } from '../../src/delivery/signing.js';
import { waitFor } from '../helpers/events.js';

const QUICKSTART = 'sdk/examples/quickstart.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("the SDK README's handler", () => {
  test('is the tested quickstart file, word for word, in under 30 lines', () => {
    const code = readFileSync(QUICKSTART, 'utf8');
    expect(readFileSync('sdk/README.md', 'utf8')).toContain('```ts\n' + code + '```');
    expect(code.trimEnd().split('\n').length).toBeLessThan(30);
  });

  test('run as a partner would, it verifies, routes and dedupes signed deliveries and refuses forged ones', async () => {
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', QUICKSTART], {
      env: { ...process.env, FPT_WEBHOOK_SECRET: secret, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    try {
      const event = {
        eventId: 'ef'.repeat(16),
        eventType: 'contact.status_changed',
        eventTimestamp: '2026-06-10T23:45:00.123Z',
        locationId: 4,
        organizationId: 2,
        apiVersion: 'v1',
        data: { contactId: 31, previousStatusId: 2, newStatusId: 3 },
      };
      const body = JSON.stringify(event);
      const headers = {
        ...signatureHeaders({
          eventId: event.eventId,
          body,
          timestamp: Math.floor(Date.now() / 1000),
          secrets: [secret],
        }),
        'x-fpt-window-id': 'w-31',
      };
      const post = (b: string) =>
        fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: b, headers }).then(async (r) => ({
          status: r.status,
          body: await r.json(),
        }));
      // the process is up once it answers
      const first = await waitFor(() => post(body).catch(() => undefined), 'the quickstart to listen');
      expect(first).toEqual({ status: 200, body: { received: true } });
      expect(await post(body)).toEqual({ status: 200, body: { received: true, duplicate: true } });
      expect((await post(body.replace('"contactId":31', '"contactId":32'))).status).toBe(401);
      await waitFor(async () => (lines.length > 0 ? true : undefined), 'the handler to log');
      expect(lines).toEqual(['contact 31: Prospects → Members (window w-31)']);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
