import { expect } from 'vitest';
import { readInOneSnapshot } from '../../src/store/db.js';
import { completeDeliveries } from '../../src/store/deliveries/complete.js';
import { getDelivery } from '../../src/store/deliveries/read.js';
import { dbTest as test } from '../helpers/db.js';
import { committingBetween } from '../helpers/interleave.js';
import { locationWithSubscription } from '../helpers/plans.js';

// A delivery's row and its attempt log are two statements. Read apart, an attempt's outcome
// committing between them showed the failed attempt already logged beside the status from before
// it ("sending"); the API reads them in one snapshot (readInOneSnapshot), as its routes do.
test('a delivery and its attempt log are read in one snapshot, whatever commits between their statements', async ({
  db,
  testDb,
}) => {
  const { org, location, sub } = await locationWithSubscription(db, 'snapshot');
  await db.query(
    `INSERT INTO events (seq, event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                         event_timestamp, data)
     VALUES (1, 'evt_snapshot', 'win_snapshot', 0, 'contact.created', 7, $1, $2, now(), '{"contactId": 7}')`,
    [location.id, org.id],
  );
  const id = 'dlv_snapshot';
  // being sent: leased at its first attempt
  await db.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts) VALUES ($1, $2, 1, 7, 'sending', 1)`,
    [id, sub.id],
  );
  // the attempt fails and is recorded by another process, as the delivery worker does
  const other = testDb.openAnother();
  const recordFailure = () =>
    other.transaction((tx) =>
      completeDeliveries(tx, [
        {
          deliveryId: id,
          eventSeq: 1,
          subscriptionId: sub.id,
          attempt: 1,
          startedAt: new Date(),
          durationMs: 3,
          statusCode: 500,
          responseBody: null,
          error: null,
          outcome: 'retry',
          nextAttemptAt: new Date(Date.now() + 60_000),
          reason: null,
        },
      ]),
    );
  // the failure commits right after the read's first statement (on the embedded engine, a
  // transaction has the engine to itself until its end, so there the failure waits for the read)
  const between = committingBetween(db, /FROM deliveries/, recordFailure);
  const read = await readInOneSnapshot(between.db, (q) => getDelivery(q, id));
  await between.changed();
  expect([read?.status, read?.attemptLog.length]).toEqual(['sending', 0]);
  // read again, the failure is there, whole
  const after = await readInOneSnapshot(db, (q) => getDelivery(q, id));
  expect([after?.status, after?.attemptLog.map((a) => a.statusCode)]).toEqual(['pending', [500]]);
});

// The snapshot is opened by its BEGIN (REPEATABLE READ, READ ONLY): nothing can be written through
// it, and its first statement already runs inside it.
test('a snapshot refuses writes, from its first statement', async ({ db }) => {
  await expect(
    readInOneSnapshot(db, (q) => q.query(`INSERT INTO organizations (name) VALUES ('written')`)),
  ).rejects.toMatchObject({ code: '25006' });
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM organizations`);
  expect(rows).toEqual([{ n: 0 }]);
});
