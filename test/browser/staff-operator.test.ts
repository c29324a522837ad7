import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OPERATOR_KEY } from '../helpers/api.js';
import {
  call,
  expectAccessible,
  expectFitsPhone,
  launchBrowser,
  pressByKeyboard,
  screenshot,
  signIn,
  startPortalService,
  watchErrors,
  type PortalService,
} from '../helpers/browser.js';
import { closeAllWindows } from '../helpers/events.js';
import { Receiver } from '../helpers/receiver.js';

// Gym staff and the operator in a real browser, against the real service on the engine under test.
// Windows stay open a while here (quiet 1.5 s), so that quick changes coalesce as they do in use.
describe('the portal, as gym staff and as the operator', () => {
  let service: PortalService;
  let browser: Browser;
  let receiver: Receiver;
  let base: string;
  let staffKey: string;
  let locationId: number;
  let partnerSubId: string;
  let contactId: number;
  const errors: string[][] = [];

  beforeAll(async () => {
    [service, browser, receiver] = await Promise.all([
      startPortalService({}, { FPT_COALESCE_QUIET_MS: '1500', FPT_COALESCE_MAX_MS: '5000' }),
      launchBrowser(),
      Receiver.start(),
    ]);
    base = service.url;
    const org = await call(base, 'POST', '/api/organizations', { name: 'Iron Temple' });
    const loc = await call(base, 'POST', '/api/locations', { name: 'Downtown', organizationId: org.id });
    locationId = loc.id;
    const app = await call(base, 'POST', '/api/apps', { name: 'CRM Co' });
    const partnerKey = (
      await call(base, 'POST', '/api/api-keys', { role: 'partner', locationId, appId: app.id })
    ).key;
    staffKey = (await call(base, 'POST', '/api/api-keys', { role: 'staff', locationId })).key;
    partnerSubId = (await call(base, 'POST', '/api/subscriptions', { url: receiver.url }, partnerKey)).id;
    // a Lead who becomes a Prospect, then a Member, within one window
    const path = `/api/locations/${locationId}/contacts`;
    contactId = (
      await call(base, 'POST', path, { firstName: 'Ada', lastName: 'Lovelace', contactGroupId: 1 }, staffKey)
    ).contactId;
    await call(base, 'PATCH', `/api/contacts/${contactId}`, { contactGroupId: 2 }, staffKey);
    await call(base, 'PATCH', `/api/contacts/${contactId}`, { contactGroupId: 3 }, staffKey);
    await call(base, 'POST', path, { firstName: 'Grace', lastName: 'Hopper', contactGroupId: 1 }, staffKey);
    await call(
      base,
      'POST',
      `/api/locations/${locationId}/automations`,
      {
        name: 'Trial ended',
        trigger: { type: 'time', field: 'trialEndsAt' },
        conditions: [{ field: 'contactGroupId', op: 'eq', value: 2 }],
        action: { set: { contactGroupId: 4 } },
      },
      staffKey,
    );
    // Ada's window closed and its creation reached the partner before the first test pauses it
    const adaCreated = () =>
      receiver.received.some(
        (r) => r.body?.eventType === 'contact.created' && r.body?.data?.contactId === contactId,
      );
    for (let n = 1; !adaCreated(); n++) await receiver.waitFor(n);
  });

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await service?.close();
  });

  async function newPage(): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    page.setDefaultTimeout(15_000);
    errors.push(watchErrors(page));
    return page;
  }

  test("staff see the partner endpoints receiving their members' data, pause and disable one, and share the app's portal", async () => {
    const page = await newPage();
    await signIn(page, base, staffKey);
    const nav = page.getByRole('navigation', { name: 'Portal' });
    expect(await nav.getByRole('link').allTextContents()).toEqual([
      'Endpoints',
      'Event catalog',
      'Contacts',
      'Automations',
    ]);
    const row = page.locator('tbody tr').filter({ hasText: receiver.url });
    await row.getByRole('link').waitFor();
    await expectAccessible(page);
    await expectFitsPhone(page);
    await row.getByRole('link').click();
    // paused by keyboard: Tab to the button, Enter
    await pressByKeyboard(page, page.getByRole('button', { name: 'Pause' }));
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    expect((await call(base, 'GET', `/api/subscriptions/${partnerSubId}`)).status).toBe('paused');
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('button', { name: 'Yes, disable' }).click();
    await page.getByText('Disabled.').waitFor();
    const sub = await call(base, 'GET', `/api/subscriptions/${partnerSubId}`);
    expect([sub.status, sub.disabledBy]).toEqual(['disabled', 'gym']);
    await expectAccessible(page);
    await expectFitsPhone(page);

    // the partner app's portal, shared by the staff key: the app's endpoints at this location only,
    // read and paused, never changed (docs/api.md, "Portal links and sessions")
    await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
    await page.getByLabel('Partner app', { exact: true }).selectOption({ label: 'CRM Co' });
    await page.getByRole('button', { name: 'Share portal link' }).click();
    const url = (await page.getByTestId('portal-link').textContent()) ?? '';
    await expectAccessible(page);
    const shared = await newPage();
    await shared.goto(url);
    await shared.getByText("through a staff key's link").waitFor();
    const rows = shared.locator('tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain(receiver.url);
    expect(await shared.getByRole('link', { name: 'Contacts' }).count()).toBe(1);
    expect(await shared.getByRole('link', { name: 'Automations' }).count()).toBe(0);
    await rows.first().getByRole('link').click();
    await shared.getByRole('button', { name: 'Enable' }).waitFor();
    await shared.getByRole('button', { name: 'Rotate secret' }).click();
    await shared.getByRole('button', { name: 'Yes, rotate secret' }).click();
    expect(await shared.getByRole('alert').textContent()).toMatch(/staff key/);
    await expectAccessible(shared);
  });

  test('contacts are searched, and a contact opens to its timeline: Lead → Prospect → Member', async () => {
    const page = await newPage();
    await signIn(page, base, staffKey);
    // more contacts than a page holds (20): the API pages them, Next and Previous follow its cursor
    const path = `/api/locations/${locationId}/contacts`;
    for (let i = 1; i <= 19; i++)
      await call(
        base,
        'POST',
        path,
        { firstName: 'Pat', lastName: `Member ${i}`, contactGroupId: 1 },
        staffKey,
      );
    // The page's clock held still and moved on by hand, so that Next is pressed before the search
    // box's first pause (250 ms) has passed, as a quick hand does: that pause must not take the list
    // back to page 1. (Rendering needs frames: the clock moves 20 ms at a time until a row shows.)
    await page.clock.install();
    await page.clock.pauseAt(Date.now() + 1000);
    const shown = async (name: string) => {
      const link = page.getByRole('link', { name });
      while (!(await link.isVisible())) await page.clock.runFor(20);
    };
    await page.getByRole('link', { name: 'Contacts' }).click();
    await shown('Grace Hopper');
    expect(await page.locator('tbody tr').count()).toBe(20);
    await pressByKeyboard(page, page.getByRole('button', { name: 'Next page' }));
    await shown('Pat Member 19');
    await page.clock.runFor(1000);
    await page.getByText('Page 2').waitFor();
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.clock.resume();
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    // the search is the API's, over every contact of the location, not the page shown
    await page.getByLabel('Search').fill('member 19');
    await page.getByRole('link', { name: 'Pat Member 19' }).waitFor();
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Search').fill('lovelace');
    await page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
    expect(await page.locator('tbody tr').count()).toBe(1);
    await expectAccessible(page);
    await expectFitsPhone(page);
    await screenshot(page, 'contacts');
    await page.getByRole('link', { name: 'Ada Lovelace' }).click();
    await page.getByRole('heading', { name: /Ada Lovelace/ }).waitFor();
    // one window took the three quick changes, and produced the events the partner got
    const window1 = page.locator('ol.timeline > li[data-window="1"]');
    await window1.getByText('closed', { exact: true }).waitFor();
    expect(await page.locator('ol.timeline > li').count()).toBe(1);
    const steps = window1.locator('> ul').first().locator('> li');
    expect(await steps.count()).toBe(3);
    expect(await steps.nth(0).textContent()).toContain('contactGroupId: ∅ → 1');
    expect(await steps.nth(1).textContent()).toContain('contactGroupId: 1 → 2');
    expect(await steps.nth(2).textContent()).toContain('contactGroupId: 2 → 3');
    const created = window1.locator('[data-event="contact.created"]');
    await created.getByText('succeeded').waitFor();
    expect(await created.textContent()).toContain(`to ${receiver.url}`);
    await expectAccessible(page);
    await expectFitsPhone(page);
    await screenshot(page, 'contact-timeline');

    // a timeline longer than a page (10 steps): the next page is loaded on demand
    const grace = (await call(base, 'GET', `${path}?search=hopper`, undefined, staffKey)).data[0].contactId;
    await closeAllWindows(service.svc.db);
    for (let i = 0; i < 10; i++)
      await call(base, 'PATCH', `/api/contacts/${grace}`, { phone: `+1555000${i}` }, staffKey);
    await closeAllWindows(service.svc.db);
    await call(base, 'PATCH', `/api/contacts/${grace}`, { phone: '+15559999' }, staffKey);
    await page.goto(`${base}/portal/contacts/${grace}`);
    await page.locator('ol.timeline > li[data-window="2"]').waitFor();
    expect(await page.locator('ol.timeline > li').count()).toBe(2);
    await pressByKeyboard(page, page.getByRole('button', { name: 'Load later changes' }));
    const last = page.locator('ol.timeline > li[data-window="3"]');
    await last.waitFor();
    expect(await last.textContent()).toContain('phone: +15550009 → +15559999');
    expect(await page.getByRole('button', { name: 'Load later changes' }).count()).toBe(0);
  });

  test('automation rules are read and disabled, then enabled again', async () => {
    const page = await newPage();
    await signIn(page, base, staffKey);
    await page.getByRole('link', { name: 'Automations' }).click();
    const rules = async () =>
      (await call(base, 'GET', `/api/locations/${locationId}/automations`, undefined, staffKey)).data;
    await pressByKeyboard(page, page.getByRole('button', { name: 'Disable rule Trial ended' }));
    await page.getByRole('button', { name: 'Enable rule Trial ended' }).waitFor();
    expect((await rules())[0].enabled).toBe(false);
    await page.getByRole('button', { name: 'Enable rule Trial ended' }).click();
    await page.getByRole('button', { name: 'Disable rule Trial ended' }).waitFor();
    expect((await rules())[0].enabled).toBe(true);
    await expectAccessible(page);
    await expectFitsPhone(page);
    await screenshot(page, 'automations');
  });

  test("the operator lists organizations, creates an app and a key (shown once), shares the app's portal, and revokes the key", async () => {
    const page = await newPage();
    await signIn(page, base, OPERATOR_KEY);
    await page.getByRole('link', { name: 'Platform' }).click();
    await page.getByRole('heading', { name: 'Partner apps' }).waitFor();
    // the platform's health: the staff test's delivery counted in the last hour, nothing disabled by failing
    const figures = page.getByTestId('platform-figures');
    await figures.waitFor();
    expect(await figures.textContent()).toMatch(/Endpoints\d+ active, \d+ paused, 1 disabled/);
    await page.getByRole('img', { name: /last hour: [1-9]\d* attempts succeeded, 0 failed/ }).waitFor();
    // organizations (GET /api/organizations) with their locations; a new one shows at once
    const tenants = page.getByTestId('tenants');
    const iron = tenants.locator('tr').filter({ has: page.getByRole('rowheader', { name: /^Iron Temple/ }) });
    await iron.waitFor();
    expect(await iron.locator('td').textContent()).toBe(`Downtown (location ${locationId})`);
    await page.getByLabel('New organization').fill('Barbell Club');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await tenants.getByRole('rowheader', { name: /^Barbell Club \(organization \d+\)$/ }).waitFor();
    await page.getByLabel('New app').fill('Booking Co');
    await pressByKeyboard(page, page.getByRole('button', { name: 'Create app' }));
    const appId = (
      (await page.locator('li', { hasText: 'Booking Co' }).locator('code').textContent()) ?? ''
    ).trim();
    expect(appId).toMatch(/^app_/);
    await page.getByLabel('Scope (org:ID or loc:ID)').fill(`loc:${locationId}`);
    await page.getByLabel('App id (partner keys)').fill(appId);
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.getByTestId('secret').textContent()) ?? '';
    expect(key).toMatch(/^fpt_partner_/);
    const me = await call(base, 'GET', '/api/me', undefined, key);
    expect([me.role, me.appId]).toEqual(['partner', appId]);
    await expectAccessible(page);
    await expectFitsPhone(page);
    await screenshot(page, 'operator');

    // the app's portal, shared by the operator for one location: the app's view there
    await page.getByLabel('Partner app', { exact: true }).selectOption({ label: 'Booking Co' });
    await page.getByLabel('Where').selectOption({ label: 'Location: Downtown' });
    await page.getByRole('button', { name: 'Share portal link' }).click();
    const shared = await newPage();
    await shared.goto((await page.getByTestId('portal-link').textContent()) ?? '');
    await shared.getByText("through the operator's link").waitFor();
    expect(await shared.getByText('Signed in as').textContent()).toContain(
      `location ${locationId}, app ${appId}`,
    );
    await shared.getByText('No endpoint yet.').waitFor();

    const row = page.locator('tbody tr').filter({ hasText: appId });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Yes, revoke' }).click();
    await row.getByText('revoked').waitFor();
    const refused = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(refused.status).toBe(401);
  });

  test('no page logged an error or was refused by the CSP', () => {
    for (const e of errors) expect(e).toEqual([]);
  });
});
