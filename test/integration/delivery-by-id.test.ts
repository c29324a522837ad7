import { describe, expect } from 'vitest';
import { createEventIdGenerator } from '../../src/domain/ids.js';
import { assumeOneSnapshot, readInOneSnapshot, type Db } from '../../src/store/db.js';
import { deliverySent } from '../../src/store/deliveries/attempts-sent.js';
import { deliveryIdTime } from '../../src/store/deliveries/by-id.js';
import { getDelivery } from '../../src/store/deliveries/read.js';
import { ensurePartitions, PARTITION_SPAN } from '../../src/store/partitions.js';
import { dbTest as test } from '../helpers/db.js';
import { explaining, locationWithSubscription, planNodes, type PlanNode } from '../helpers/plans.js';

// A delivery read by its id (GET /api/deliveries/{id}, the message log) is looked up in the
// partitions that were open when its id was made, not in every partition (src/store/deliveries/by-id.ts).

/** The partitions of deliveries a plan reads (pruned ones are not in it). */
const deliveryPartitions = (plan: PlanNode): Set<string> =>
  new Set(
    planNodes(plan).flatMap((n) =>
      n['Relation Name']?.startsWith('deliveries') ? [n['Relation Name']] : [],
    ),
  );

const DAY = 86_400_000;

/**
 * Partitions 0 to 3, each open for a day (3 is current, opened a day ago), an event in each, and a
 * delivery of each event whose UUIDv7 id was made in the middle of its partition's day. Also, in
 * partition 1: a delivery with a random id (as replay makes them) and one whose id's time points at
 * partition 3 (no such delivery is made, but nothing may be lost if one were).
 */
async function deliveriesOverPartitions(db: Db) {
  for (let n = 0; n < 3; n++) {
    await db.query(`UPDATE event_partitions SET opened_at = now() - interval '2 days' WHERE n = $1`, [n]);
    await ensurePartitions(db, { partitionDays: 1 });
  }
  const now = Date.now();
  // partition n: opened (4 - n) days ago, closed a day later (3 is still open)
  await db.query(
    `UPDATE event_partitions SET opened_at = now() - (4 - n) * interval '1 day',
       closed_at = CASE WHEN n < 3 THEN now() - (3 - n) * interval '1 day' END
     WHERE n <= 3`,
  );
  const { org, location, sub } = await locationWithSubscription(db, 'by-id');
  const newId = createEventIdGenerator();
  const newEventId = createEventIdGenerator();
  const made: { id: string; partition: number; eventId: string }[] = [];
  const deliver = async (partition: number, id: string) => {
    const seq = partition * PARTITION_SPAN + 1 + made.length;
    const eventId = newEventId();
    await db.query(
      `INSERT INTO events (seq, event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                           event_timestamp, data)
       VALUES ($1, $2, 'win_by_id', 0, 'contact.updated', 7, $3, $4, now(), '{"contactId": 7, "changes": {}}')`,
      [seq, eventId, location.id, org.id],
    );
    await db.query(
      `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, completed_at)
       VALUES ($1, $2, $3, 7, 'succeeded', 1, now())`,
      [id, sub.id, seq],
    );
    made.push({ id, partition, eventId });
  };
  for (let n = 0; n <= 3; n++) await deliver(n, `dlv_${newId(now - (3.5 - n) * DAY)}`);
  await deliver(1, 'dlv_' + '4'.repeat(12) + '4' + 'a'.repeat(19));
  await deliver(1, `dlv_${newId(now - 0.5 * DAY)}`);
  return made;
}

describe('a delivery by its id', () => {
  test("is read in its id's partition, and found wherever it is", async ({ db }) => {
    const made = await deliveriesOverPartitions(db);
    for (const [i, d] of made.entries()) {
      const read: Set<string>[] = [];
      const found = await getDelivery(
        assumeOneSnapshot(explaining(db, (plan) => read.push(deliveryPartitions(plan)))),
        d.id,
      );
      expect(found, d.id).toMatchObject({ id: d.id, eventId: d.eventId });
      expect((await deliverySent(db, d.id))?.eventId).toBe(d.eventId);
      // the first four are in the partition of their id's time: that partition is the only one read
      const partitions = new Set(read.flatMap((r) => [...r]));
      if (i < 4) expect([...partitions]).toEqual([`deliveries_p${d.partition}`]);
      // the others, found by looking in every partition
      else expect(partitions).toContain(`deliveries_p${d.partition}`);
    }
    const unknown = `dlv_${createEventIdGenerator()()}`;
    expect(await readInOneSnapshot(db, (q) => getDelivery(q, unknown))).toBeUndefined();
  });

  test('only UUIDv7 ids tell their time', () => {
    const id = createEventIdGenerator()(Date.UTC(2026, 0, 2));
    expect(deliveryIdTime(`dlv_${id}`)).toBe(Date.UTC(2026, 0, 2));
    expect(
      deliveryIdTime('dlv_' + '0'.repeat(12) + '4' + '0'.repeat(3) + '8' + '0'.repeat(15)),
    ).toBeUndefined();
    expect(deliveryIdTime(id)).toBeUndefined();
  });
});
