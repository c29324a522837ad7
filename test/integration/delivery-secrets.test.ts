import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import { SecretBox } from '../../src/delivery/secret-box.js';
import { resealSecrets } from '../../src/store/subscriptions.js';
import { createTestApi, testConfig } from '../helpers/api.js';
import {
  contactAt,
  deliveries,
  deliverySettings,
  receiverTest,
  startDeliveryWorker,
  subscribe,
  subscribeToCreations,
} from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import { fptSignatureValid, standardWebhooksValid } from '../helpers/signatures.js';

// The API accepts local http:// receivers (FPT_ALLOW_PRIVATE_URLS=1), as local testing needs.
const test = receiverTest;

describe('delivery', () => {
  test('during a secret rotation both secrets sign; after the overlap only the new one', async ({
    api,
    tenant,
    receiver,
    worker: _w,
  }) => {
    const sub = await subscribeToCreations(api, tenant, receiver);
    const rotated = await api.post(`/api/subscriptions/${sub.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(sub.secret);
    expect(new Date(rotated.body.previousSecretExpiresAt).getTime()).toBeGreaterThan(
      Date.now() + 23 * 3_600_000,
    );
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const [during] = await receiver.waitFor(1);
    for (const secret of [sub.secret, rotated.body.secret]) {
      expect(fptSignatureValid(during!, secret)).toBe(true);
      expect(standardWebhooksValid(during!, secret)).toBe(true);
    }
    const again = await api.post(`/api/subscriptions/${sub.id}/rotate-secret`, { overlapHours: 0 });
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const after = (await receiver.waitFor(2))[1]!;
    expect(standardWebhooksValid(after, again.body.secret)).toBe(true);
    expect(fptSignatureValid(after, again.body.secret)).toBe(true);
    expect(standardWebhooksValid(after, rotated.body.secret)).toBe(false);
    expect(fptSignatureValid(after, rotated.body.secret)).toBe(false);
  });
});

describe('signing secrets sealed at rest (FPT_SECRETS_KEY)', () => {
  const keys = [randomBytes(32)];
  const sealedConfig = () => testConfig({ delivery: deliverySettings({ secretsKeys: keys }) });

  test('a secret is shown in clear once, stored sealed, and deliveries signed with it verify; so do both during a rotation', async ({
    db,
    tenant,
    receiver,
  }) => {
    const api = createTestApi(db, sealedConfig());
    const worker = await startDeliveryWorker(db, { secretsKeys: keys });
    try {
      const sub = await subscribeToCreations(api, tenant, receiver);
      const stored = async () =>
        (
          await db.query<{ secret: string; previous_secret: string | null }>(
            'SELECT secret, previous_secret FROM subscriptions WHERE id = $1',
            [sub.id],
          )
        ).rows[0]!;
      const first = await stored();
      expect(first.secret).toMatch(/^fptenc:v2:/);
      expect(first.secret).not.toContain(sub.secret.slice(6));
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [one] = await receiver.waitFor(1);
      expect(standardWebhooksValid(one!, sub.secret)).toBe(true);
      expect(fptSignatureValid(one!, sub.secret)).toBe(true);

      const rotated = await api.post(
        `/api/subscriptions/${sub.id}/rotate-secret`,
        {},
        { key: tenant.keys.orgPartner },
      );
      const next = rotated.body.secret as string;
      const after = await stored();
      expect(after.secret).toMatch(/^fptenc:v2:/);
      expect(after.previous_secret).toBe(first.secret);
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [, two] = await receiver.waitFor(2);
      for (const secret of [sub.secret, next]) {
        expect(standardWebhooksValid(two!, secret)).toBe(true);
        expect(fptSignatureValid(two!, secret)).toBe(true);
      }
    } finally {
      await worker.stop();
      await api.app.close();
    }
  });

  test('seal-secrets seals what was stored in clear, and deliveries still verify', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    // created before any key was set: stored in clear
    const sub = await subscribeToCreations(api, tenant, receiver);
    const box = new SecretBox(keys);
    const reseal = (stored: string, subscriptionId: string) => box.reseal(stored, subscriptionId);
    expect(await resealSecrets(db, reseal)).toBe(1);
    expect(await resealSecrets(db, reseal)).toBe(0);
    const worker = await startDeliveryWorker(db, { secretsKeys: keys });
    try {
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [got] = await receiver.waitFor(1);
      expect(standardWebhooksValid(got!, sub.secret)).toBe(true);
    } finally {
      await worker.stop();
    }
  });

  test('a worker without the key cannot sign a sealed secret: the attempt fails, is logged and retried, and the worker goes on', async ({
    db,
    tenant,
    receiver,
  }) => {
    const api = createTestApi(db, sealedConfig());
    const worker = await startDeliveryWorker(db); // no FPT_SECRETS_KEY
    try {
      const sub = await subscribe(api, tenant.keys.orgPartner, {
        url: receiver.url,
        locationId: tenant.locA,
      });
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [retrying] = await waitFor(async () => {
        const list = await deliveries(api, sub.id);
        return list.length > 0 && list[0].attemptLog.length > 0 ? list : undefined;
      }, 'a logged attempt');
      expect(retrying.attemptLog[0].error).toContain(
        'cannot sign: a signing secret is sealed, and FPT_SECRETS_KEY is not set',
      );
      expect(receiver.received).toHaveLength(0);
    } finally {
      await worker.stop();
      await api.app.close();
    }
  });
});
