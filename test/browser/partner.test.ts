import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  call,
  expectAccessible,
  expectFitsPhone,
  inPage,
  pressByKeyboard,
  launchBrowser,
  screenshot,
  signIn,
  startPortalService,
  watchErrors,
  type PortalService,
} from '../helpers/browser.js';
import { Receiver } from '../helpers/receiver.js';

// A partner's portal in a real browser, against the real service on the engine under test.
describe('the portal, as a partner', () => {
  let service: PortalService;
  let browser: Browser;
  let receiver: Receiver;
  let base: string;
  let partnerKey: string;
  let staffKey: string;
  let locationId: number;
  let otherSubId: string;
  const pages: { page: Page; errors: string[] }[] = [];

  beforeAll(async () => {
    [service, browser, receiver] = await Promise.all([
      startPortalService(),
      launchBrowser(),
      Receiver.start(),
    ]);
    base = service.url;
    const org = await call(base, 'POST', '/api/organizations', { name: 'Iron Temple' });
    const loc = await call(base, 'POST', '/api/locations', { name: 'Downtown', organizationId: org.id });
    locationId = loc.id;
    const crm = await call(base, 'POST', '/api/apps', { name: 'CRM Co' });
    const other = await call(base, 'POST', '/api/apps', { name: 'Other Partner' });
    const key = async (role: string, appId?: string) =>
      (await call(base, 'POST', '/api/api-keys', { role, locationId, ...(appId ? { appId } : {}) }))
        .key as string;
    partnerKey = await key('partner', crm.id);
    staffKey = await key('staff');
    const otherKey = await key('partner', other.id);
    otherSubId = (
      await call(base, 'POST', '/api/subscriptions', { url: 'https://other.example.com/hooks' }, otherKey)
    ).id;
  });

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await service?.close();
  });

  async function newPage(viewport = { width: 1200, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    pages.push({ page, errors: watchErrors(page) });
    return page;
  }

  async function createEndpoint(
    page: Page,
    description: string,
    by: 'mouse' | 'keyboard' = 'mouse',
  ): Promise<{ id: string; secret: string }> {
    if (by === 'mouse') await page.goto(`${base}/portal/endpoints/new`);
    await page.getByLabel('URL').fill(receiver.url);
    await page.getByLabel('Description').fill(description);
    const create = page.getByRole('button', { name: 'Create endpoint' });
    if (by === 'keyboard') await pressByKeyboard(page, create);
    else await create.click();
    const secret = (await page.getByTestId('secret').textContent()) ?? '';
    await page.getByRole('link', { name: 'Open the endpoint' }).click();
    await page.getByRole('heading', { name: /^Endpoint/ }).waitFor();
    return { id: page.url().split('/').pop()!, secret };
  }

  test('a wrong key is refused; a partner key signs in, for this tab only, and signs out', async () => {
    const page = await newPage();
    await page.goto(`${base}/portal/`);
    await expect.poll(() => page.url()).toBe(`${base}/portal/sign-in`);
    await expectAccessible(page);
    await screenshot(page, 'sign-in');
    await page.getByLabel('API key').fill('fpt_partner_not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/key/i);

    await signIn(page, base, partnerKey);
    await page.getByRole('heading', { name: 'Endpoints' }).waitFor();
    expect(await page.getByText('Signed in as').textContent()).toContain('partner');
    // kept in this tab's sessionStorage only
    expect(await inPage<number>(page, 'localStorage.length')).toBe(0);
    expect(await inPage<string[]>(page, 'Object.keys(sessionStorage)')).toEqual(['fpt-portal-session']);
    // another tab (a new context has a fresh storage) is not signed in
    const other = await newPage();
    await other.goto(`${base}/portal/endpoints`);
    await other.getByLabel('API key').waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out.').waitFor();
    expect(await inPage<number>(page, 'sessionStorage.length')).toBe(0);
  });

  test('creating an endpoint shows its secret once; the test event arrives and shows in the log', async () => {
    const page = await newPage();
    await signIn(page, base, partnerKey);
    // this flow by keyboard: Tab to each main action, Enter on it
    await pressByKeyboard(page, page.getByRole('link', { name: 'New endpoint' }));
    await page.getByLabel('URL').waitFor();
    await expectAccessible(page);
    await expectFitsPhone(page);
    await screenshot(page, 'new-endpoint');
    const { id, secret } = await createEndpoint(page, 'CRM sync', 'keyboard');
    expect(secret).toMatch(/^whsec_/);
    await page.reload();
    await page.getByRole('heading', { name: 'Message log' }).waitFor();
    expect(await page.content()).not.toContain(secret);

    await pressByKeyboard(page, page.getByRole('button', { name: 'Send test event' }));
    const row = page.locator('tbody tr').filter({ hasText: '(test)' });
    await row.getByText('succeeded').waitFor();
    const [received] = await receiver.waitFor(1);
    expect(received!.headers['x-fpt-test-event']).toBe('true');
    // the health section counts the attempt once it is read again
    await page.getByRole('radio', { name: 'Last hour' }).check();
    await page.getByRole('img', { name: 'attempts per bucket: 1 succeeded, 0 failed' }).waitFor();
    expect(await page.getByTestId('health-totals').textContent()).toContain('100%');
    await expectAccessible(page);
    await expectFitsPhone(page);
    await screenshot(page, 'endpoint');

    // the endpoint list shows it with its status and a sparkline of its deliveries
    await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
    const listed = page.locator('tbody tr').filter({ hasText: receiver.url });
    await listed.getByRole('img', { name: 'last 1 deliveries: 1 succeeded' }).waitFor();
    expect(await listed.getByText('active').count()).toBe(1);
    await expectAccessible(page);
    await screenshot(page, 'endpoints');
    expect(id).toMatch(/^sub_/);
  });

  test("a failing endpoint: the attempt's answer, then a Retry that succeeds", async () => {
    const page = await newPage();
    await signIn(page, base, partnerKey);
    await createEndpoint(page, 'failing first');
    receiver.status(500, { 'content-type': 'text/plain' }, 'database is down');
    await page.getByRole('button', { name: 'Send test event' }).click();
    const row = page.locator('tbody tr').filter({ hasText: '(test)' });
    await row.getByText('failed').waitFor();
    await row.getByRole('link').click();
    await page.getByRole('heading', { name: /Attempt 1/ }).waitFor();
    expect(await page.locator('[data-attempt="1"]').textContent()).toContain('HTTP 500');
    expect(await page.getByLabel('Answer body of attempt 1').textContent()).toBe('database is down');
    // the request exactly as sent: its signatures and its body
    await page.getByText('Request as sent').first().click();
    const headers = (await page.getByLabel('Request headers of attempt 1').textContent()) ?? '';
    expect(headers).toMatch(/^webhook-signature: v1,/m);
    expect(headers).toMatch(/^x-fpt-test-event: true$/m);
    const [sent] = receiver.received.slice(-1);
    expect(await page.getByLabel('Request body of attempt 1').textContent()).toBe(sent!.raw);
    await expectAccessible(page);
    await expectFitsPhone(page);
    await screenshot(page, 'delivery');

    receiver.status(200);
    await pressByKeyboard(page, page.getByRole('button', { name: 'Retry' }));
    await page.getByText('Queued again').waitFor();
    await page.locator('[data-attempt="2"]').getByText('succeeded').waitFor();
    expect(await page.locator('[data-attempt="2"]').textContent()).toContain('HTTP 200');
  });

  test('Replay queues again everything that failed since a time, and it arrives', async () => {
    const page = await newPage();
    await signIn(page, base, partnerKey);
    const { id } = await createEndpoint(page, 'replayed');
    receiver.status(503);
    // two real contact events (staff adds two contacts), both failing at the endpoint
    for (const name of ['Ada', 'Grace'])
      await call(
        base,
        'POST',
        `/api/locations/${locationId}/contacts`,
        { firstName: name, contactGroupId: 1 },
        staffKey,
      );
    const failed = page
      .locator('tbody tr')
      .filter({ hasText: 'contact.created' })
      .filter({ hasText: 'failed' });
    await expect.poll(() => failed.count()).toBe(2);
    // the companions of each creation (its status) fail too: the log filtered by status shows them all
    const deliveries = async (status: string) =>
      (await call(base, 'GET', `/api/subscriptions/${id}/deliveries?status=${status}`, undefined, partnerKey))
        .data;
    await expect
      .poll(async () => (await deliveries('pending')).length + (await deliveries('sending')).length)
      .toBe(0);
    const failedCount = (await deliveries('failed')).length;
    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(failedCount);
    await page.getByLabel('Status', { exact: true }).selectOption('');
    // filtered by the API: event type, then contact
    await page.getByLabel('Event type', { exact: true }).selectOption('contact.created');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(2);
    const grace = (await deliveries('failed')).find(
      (d: { eventType: string }) => d.eventType === 'contact.created',
    );
    await page.getByLabel('Contact', { exact: true }).fill(String(grace.contactId));
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Contact', { exact: true }).fill('');
    await page.getByLabel('Event type', { exact: true }).selectOption('');

    receiver.status(200);
    const since = new Date(Date.now() - 10 * 60_000);
    const local = new Date(since.getTime() - since.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByLabel('Everything that failed since').fill(local);
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.getByText(`${failedCount} deliveries queued again.`).waitFor();
    const ok = page
      .locator('tbody tr')
      .filter({ hasText: 'contact.created' })
      .filter({ hasText: 'succeeded' });
    await expect.poll(() => ok.count()).toBe(2);
    await expect.poll(async () => (await deliveries('succeeded')).length).toBe(failedCount);
  });

  test('edit, pause and resume, rotate the secret, delete', async () => {
    const page = await newPage();
    await signIn(page, base, partnerKey);
    const { id, secret } = await createEndpoint(page, 'to change');
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Description').fill('changed');
    await page.getByRole('checkbox', { name: 'contact.deleted' }).uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const sub = await call(base, 'GET', `/api/subscriptions/${id}`, undefined, partnerKey);
    expect(sub.description).toBe('changed');
    expect(sub.eventTypes).not.toContain('contact.deleted');

    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    expect((await call(base, 'GET', `/api/subscriptions/${id}`, undefined, partnerKey)).status).toBe(
      'paused',
    );
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('button', { name: 'Yes, rotate secret' }).click();
    const rotated = (await page.getByTestId('secret').textContent()) ?? '';
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByRole('heading', { name: 'Endpoints' }).waitFor();
    const after = await fetch(`${base}/api/subscriptions/${id}`, {
      headers: { authorization: `Bearer ${partnerKey}` },
    });
    expect(after.status).toBe(404);
  });

  test("another app's endpoint is neither listed nor readable", async () => {
    const page = await newPage();
    await signIn(page, base, partnerKey);
    await page.getByRole('heading', { name: 'Endpoints' }).waitFor();
    await page.locator('tbody tr').first().waitFor();
    expect(await page.getByText('other.example.com').count()).toBe(0);
    await page.goto(`${base}/portal/endpoints/${otherSubId}`);
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/no subscription|not found/i);
  });

  test('the event catalog shows each type with its schema and example', async () => {
    const page = await newPage();
    await signIn(page, base, partnerKey);
    await page.getByRole('link', { name: 'Event catalog' }).click();
    await page.getByRole('heading', { name: 'contact.status_changed' }).waitFor();
    expect(await page.locator('article.event-type').count()).toBe(5);
    // a type's example opens by keyboard (Enter on its summary)
    await pressByKeyboard(
      page,
      page.locator('article[aria-labelledby="type-contact.created"]').getByText('Example payload'),
    );
    expect(await page.getByLabel('Example payload of contact.created').textContent()).toContain(
      '"eventType": "contact.created"',
    );
    // which types fire together: each type's companions, and the rules by kind of change
    expect(await page.getByTestId('fires-with-contact.deleted').textContent()).toBe(
      'Fires together with: contact.created',
    );
    const rule = page.locator('tbody tr').filter({ hasText: 'its group changed' }).first();
    expect(await rule.locator('td').nth(1).textContent()).toBe('contact.status_changed → contact.updated');
    await expectAccessible(page);
    await expectFitsPhone(page);
    await screenshot(page, 'catalog');
  });

  test('works by keyboard alone', async () => {
    const page = await newPage();
    await page.goto(`${base}/portal/sign-in`);
    await page.getByLabel('API key').waitFor();
    await page.keyboard.press('Tab');
    expect(await inPage<string>(page, 'document.activeElement?.id')).toBe('api-key');
    await page.keyboard.type(partnerKey);
    await page.keyboard.press('Enter');
    await page.getByText('Signed in as').waitFor();
    // the first Tab reaches the skip link, which moves focus to the content
    await page.keyboard.press('Tab');
    expect(await inPage<string>(page, 'document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await inPage<string>(page, 'document.activeElement?.id')).toBe('main');
    // back to the navigation, and on to the catalog by Tab and Enter
    await page.keyboard.press('Shift+Tab');
    let found = false;
    for (let i = 0; i < 10 && !found; i++) {
      await page.keyboard.press('Tab');
      found = (await inPage<string>(page, 'document.activeElement?.textContent')) === 'Event catalog';
    }
    expect(found).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Event catalog' }).waitFor();
    // a page that does not exist says so, and leads back by keyboard
    await page.goto(`${base}/portal/nowhere`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await expectAccessible(page);
    await expectFitsPhone(page);
    await pressByKeyboard(page, page.getByRole('link', { name: 'Back to the endpoints' }));
    await page.getByRole('heading', { name: 'Endpoints' }).waitFor();
  });

  test('reads on a phone-sized window without sideways scrolling', async () => {
    const page = await newPage({ width: 390, height: 844 });
    await signIn(page, base, partnerKey);
    await page.locator('tbody tr').first().waitFor();
    const overflow = await inPage<number>(page, 'document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await expectAccessible(page);
    await screenshot(page, 'phone-endpoints');
  });

  test('a portal link, shared from the endpoints page, signs in once, for a session that ends at its expiry', async () => {
    // minted on the endpoints page ("Share portal link", reached by keyboard)
    const sharer = await newPage();
    await signIn(sharer, base, partnerKey);
    await pressByKeyboard(sharer, sharer.getByRole('button', { name: 'Share portal link' }));
    const url = (await sharer.getByTestId('portal-link').textContent()) ?? '';
    expect(url).toContain('/portal/#/link/');
    await expectAccessible(sharer);
    await expectFitsPhone(sharer);
    const page = await newPage();
    await page.goto(url);
    await page.getByText('Signed in as partner').waitFor();
    expect(await page.getByText('Signed in as').textContent()).toContain('portal session until');
    // the token left the address bar, and the session is kept for the tab only
    expect(page.url()).toBe(`${base}/portal/endpoints`);
    await page.locator('tbody tr').first().waitFor();
    await expectAccessible(page);

    // opened once only
    const again = await newPage();
    await again.goto(url);
    await again.getByRole('heading', { name: 'This portal link cannot be opened' }).waitFor();
    expect(await again.getByRole('alert').textContent()).toMatch(/already|used/i);
    await expectAccessible(again);
    await expectFitsPhone(again);
    // a session opened by a link cannot share the portal on
    expect(await page.getByRole('button', { name: 'Share portal link' }).count()).toBe(0);

    // the session's end (moved to the past here): the next read is refused and the tab signs out
    await service.svc.db.query(`UPDATE portal_sessions SET expires_at = now() - interval '1 second'`);
    await page.getByRole('link', { name: 'Event catalog' }).click();
    await page.getByText('your session has expired').waitFor();
    await page.getByLabel('API key').waitFor();
    expect(await inPage<number>(page, 'sessionStorage.length')).toBe(0);
  });

  test('no page logged an error or was refused by the CSP', () => {
    for (const { errors } of pages) expect(errors).toEqual([]);
  });
});
