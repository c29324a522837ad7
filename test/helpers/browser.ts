import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startService, type RunningService } from '../../src/service.js';
import { OPERATOR_KEY } from './api.js';
import { createTestDb, engine } from './db.js';
import { seededDataDir } from './embedded-data-dir.js';

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it when missing). */
export const CHROMIUM = process.env.FPT_CHROMIUM ?? '/usr/bin/chromium';

/**
 * A headless chromium with a fresh profile of its own (playwright makes a temporary user-data-dir
 * for each launch), nothing in the background reaching out (updates, sync, QUIC probes).
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface PortalService {
  svc: RunningService;
  url: string;
  close(): Promise<void>;
}

/**
 * The whole service (API, portal and workers) on a random loopback port, on the engine under test:
 * its own embedded data folder, or its own schema on the PostgreSQL test server. Deliveries go to
 * loopback receivers, windows close fast, and a failed attempt is final (`retryScheduleMs: []`) so
 * that Retry and Replay have failed deliveries to act on without waiting out a schedule.
 */
export async function startPortalService(
  overrides: Partial<Config> = {},
  env: Record<string, string> = {},
): Promise<PortalService> {
  const base = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    FPT_COALESCE_QUIET_MS: '50',
    FPT_COALESCE_MAX_MS: '200',
    ...env,
  });
  const cleanups: (() => Promise<void> | void)[] = [];
  let config: Config = {
    ...base,
    adminToken: OPERATOR_KEY,
    logLevel: 'silent',
    delivery: { ...base.delivery, allowPrivateUrls: true, retryScheduleMs: [] },
    ...overrides,
  };
  if (engine === 'postgres') {
    const t = await createTestDb({ migrate: false });
    cleanups.push(() => t.drop());
    const url = new URL(process.env.FPT_TEST_DATABASE_URL!);
    url.searchParams.set('options', `-c search_path=${t.schema}`);
    config = { ...config, databaseUrl: url.toString() };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'fpt-portal-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    config = { ...config, dataDir: await seededDataDir(join(dir, 'data')) };
  }
  const svc = await startService(config, createLogger({ level: 'silent', format: 'json' }));
  return {
    svc,
    url: svc.url,
    close: async () => {
      await svc.close();
      for (const c of cleanups.reverse()) await c();
    },
  };
}

/** A REST call as the operator (or another key): test setup goes through the API like a client. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  key = OPERATOR_KEY,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests assert on the JSON they get
): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: unknown[];
}

/** An expression evaluated in the page (a string: these files are typed for Node, not the DOM). */
export const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate<T>(expression);

/**
 * axe-core run in the page as it is: no serious or critical violation. It is evaluated through the
 * debugging protocol, which the page's CSP (script-src 'self') does not apply to.
 */
export async function expectAccessible(page: Page): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await inPage<AxeViolation[]>(
    page,
    `axe.run(document).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target) })))`,
  );
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, JSON.stringify(bad, null, 2)).toEqual([]);
}

/** Every console error and failed request of a page (a CSP refusal shows as one): none expected. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    // (an answer of 4xx is logged by the browser as an error; the tests ask for some on purpose)
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Signs in on the portal's page with a pasted key. */
export async function signIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/portal/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in as').waitFor();
}

const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

/**
 * Screenshots for the README, made by the tests so that they show the portal as it is. Every run
 * renders and takes them (a page that cannot be drawn fails the test); they are written to
 * docs/screenshots only when FPT_UPDATE_SCREENSHOTS=1, so that a test run leaves the tree clean.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const image = await page.screenshot({ fullPage: true });
  expect(image.length, `screenshot ${name}`).toBeGreaterThan(0);
  // one engine is enough for pictures; the PostgreSQL run checks the same pages
  if (engine !== 'pglite' || process.env.FPT_UPDATE_SCREENSHOTS !== '1') return;
  writeFileSync(join(SCREENSHOTS, `${name}.png`), image);
}

/**
 * Reaches `target` by Tab alone from where the focus is (at most `max` presses, failing otherwise),
 * then presses `key` on it (Enter: a link or button; Space: a checkbox): the keyboard way to a
 * page's main action.
 */
export async function pressByKeyboard(page: Page, target: Locator, key = 'Enter', max = 80): Promise<void> {
  await target.waitFor();
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if ((await target.and(page.locator(':focus')).count()) > 0) {
      await page.keyboard.press(key);
      return;
    }
  }
  throw new Error(`${String(target)} was not reached by ${max} presses of Tab`);
}

/**
 * The page as it is, on a phone-sized window (390 × 844): nothing wider than the window, so no
 * sideways scrolling. The window is given back its size afterwards.
 */
export async function expectFitsPhone(page: Page): Promise<void> {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    const overflow = await inPage<number>(page, 'document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow, `sideways scroll on a phone at ${page.url()}`).toBeLessThanOrEqual(0);
  } finally {
    if (size) await page.setViewportSize(size);
  }
}
