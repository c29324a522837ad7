import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, test } from 'vitest';
import { CLI, PROCESS_TEST_TIMEOUT_MS, runCli } from '../helpers/cli.js';
import { signatureHeaders } from '../../src/delivery/signing.js';

describe('fpt-events listen (as a process)', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  test('--help explains itself', async () => {
    const res = await runCli(['listen', '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Usage: fpt-events listen');
    expect(res.stdout).toContain('FPT_WEBHOOK_SECRET');
  });

  test('without a secret it is a configuration error', async () => {
    const env = { ...process.env };
    delete env.FPT_WEBHOOK_SECRET;
    const res = await runCli(['listen'], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--secret');
  });

  test('verifies and prints a signed delivery, then stops cleanly on SIGTERM', async () => {
    const secret = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    const child = spawn(process.execPath, [...CLI, 'listen', '--port', '0', '--path', '/in'], {
      env: { ...process.env, FPT_WEBHOOK_SECRET: secret },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const lines: string[] = [];
    const waiters: (() => void)[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) w();
    });
    const lineWith = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => l.includes(text));
          if (found !== undefined) resolve(found);
          else if (child.exitCode !== null) reject(new Error(`listen exited; output: ${lines.join('\n')}`));
          else waiters.push(check);
        };
        check();
      });

    const url = /(http:\/\/\S+)/.exec(await lineWith('listening for FPT deliveries on'))?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/in$/);
    const event = {
      eventId: 'cd'.repeat(16),
      eventType: 'contact.status_changed',
      eventTimestamp: '2026-06-10T23:45:00.123Z',
      locationId: 4,
      organizationId: 2,
      apiVersion: 'v1',
      data: { contactId: 77, previousStatusId: 3, newStatusId: 4 },
    };
    const body = JSON.stringify(event);
    const headers = signatureHeaders({
      eventId: event.eventId,
      body,
      timestamp: Math.floor(Date.now() / 1000),
      secrets: [secret],
    });
    const res = await fetch(url!, { method: 'POST', body, headers });
    expect(res.status).toBe(200);
    expect(await lineWith('contact 77')).toContain('Members (3) → Past Members (4)');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
