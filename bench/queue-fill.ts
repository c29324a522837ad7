/**
 * The delivery queue's tables filled by SQL, as after a day of traffic: `events` events with a
 * contact's payload, one finished delivery each, and one attempt each with a short answer body
 * (bench/analyze.ts, bench/maintenance.ts).
 */
import type { Db } from '../src/store/db.js';
import { createSubscription } from '../src/store/subscriptions.js';
import { benchTenant } from './lib.js';

export async function fillQueue(db: Db, events: number): Promise<void> {
  await db.query(
    `INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                         event_timestamp, data)
     SELECT 'evt_' || g, 'win_' || g, 0, 'contact.updated', g, 1, 1, now(),
            jsonb_build_object('contactId', g, 'changes', jsonb_build_object('contactGroupId', jsonb_build_object('from', 1, 'to', 2)),
              'contact', jsonb_build_object('firstName', 'Bench', 'lastName', 'Person ' || g, 'email', 'p' || g || '@example.com',
                'phone', '+1555' || g, 'contactGroupId', 2, 'isActive', true, 'locationId', 1))
     FROM generate_series(1, $1::int) g`,
    [events],
  );
  const { org, location } = await benchTenant(db);
  const sub = await createSubscription(db, {
    url: 'https://analyze.example.com/hook',
    eventTypes: null,
    locationId: location.id,
    organizationId: org.id,
    description: null,
    secret: 'whsec_analyze',
  });
  await db.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, completed_at)
     SELECT 'dlv_' || seq, $1, seq, contact_id, 'succeeded', 1, now() FROM events`,
    [sub.id],
  );
  await db.query(
    `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, outcome, event_seq)
     SELECT id, 1, now(), 12, 200, '{"ok":true,"received":"' || id || '"}', 'succeeded', event_seq FROM deliveries`,
  );
}
