/**
 * The hand-planted mutants of the queue's SQL (scripts/sql-mutants.ts runs them; docs/testing.md
 * lists them): each is a file, exact texts to replace in it, and the tests that must fail.
 */

export interface Edit {
  /** the exact text to replace; it must occur exactly once in the file */
  search: string;
  replace: string;
}

export interface SqlMutant {
  id: string;
  /** the source file, from the repository root */
  file: string;
  edits: Edit[];
  /** test files (from the root) that must fail with the mutant planted */
  tests: string[];
  /** only the tests whose name matches (vitest's -t), to keep a run short */
  names?: string;
  /** the engine whose behaviour it changes (default: the embedded one) */
  engine?: 'pglite' | 'postgres';
}

const CLAIM = 'src/store/deliveries/claim.ts';
const COMPLETE = 'src/store/deliveries/complete.ts';
const RELEASE = 'src/store/deliveries/release.ts';
const REPLAY = 'src/store/deliveries/replay.ts';
const RETENTION = 'src/store/retention.ts';
const WORKERS = 'src/store/workers.ts';
const T = {
  boundaries: 'test/integration/delivery-boundaries.test.ts',
  claims: 'test/integration/delivery-claims.test.ts',
  order: 'test/integration/delivery-order.test.ts',
  recovery: 'test/integration/delivery-recovery.test.ts',
  retries: 'test/integration/delivery-retries.test.ts',
  retention: 'test/integration/retention.test.ts',
};

/**
 * The mutants. Kept as data (file, search, replacement, tests) so that a file split or moved only
 * needs its path changed here; the search strings are single statements' fragments.
 */
export const MUTANTS: SqlMutant[] = [
  // ── claim ──
  {
    id: 'claim-order-ignores-sending',
    file: CLAIM,
    edits: [
      {
        search: `AND p.event_seq < w.event_seq AND p.status IN ('pending', 'sending')`,
        replace: `AND p.event_seq < w.event_seq AND p.status IN ('pending')`,
      },
    ],
    tests: [T.order],
  },
  {
    id: 'claim-order-reversed',
    file: CLAIM,
    edits: [
      {
        search: `AND p.event_seq < w.event_seq AND p.status IN ('pending', 'sending')`,
        replace: `AND p.event_seq > w.event_seq AND p.status IN ('pending', 'sending')`,
      },
    ],
    tests: [T.order, T.claims],
  },
  {
    id: 'claim-not-due',
    file: CLAIM,
    edits: [
      {
        search: `WHERE c.status IN ('pending', 'sending') AND c.next_attempt_at <= now()`,
        replace: `WHERE c.status IN ('pending', 'sending')`,
      },
      {
        search: `AND d.status IN ('pending', 'sending') AND d.next_attempt_at <= now()`,
        replace: `AND d.status IN ('pending', 'sending')`,
      },
    ],
    tests: [T.retries],
    names: 'retried on the schedule|Retry-After',
  },
  {
    id: 'claim-inactive-subscription',
    file: CLAIM,
    edits: [
      {
        search: `JOIN subscriptions s ON s.id = d.subscription_id AND s.status = 'active'`,
        replace: `JOIN subscriptions s ON s.id = d.subscription_id`,
      },
    ],
    tests: [T.claims],
    names: 'paused meanwhile',
  },
  {
    id: 'chain-jumps-held-link',
    file: CLAIM,
    edits: [
      {
        search: `if (r.status === 'sending' && chain[0]!.status !== 'sending') cut.add(r.head);`,
        replace: `if (r.status === 'sending' && false) cut.add(r.head);`,
      },
    ],
    tests: [T.claims],
  },
  {
    id: 'chain-takes-last-links',
    file: CLAIM,
    edits: [{ search: `ORDER BY n.event_seq LIMIT $5`, replace: `ORDER BY n.event_seq DESC LIMIT $5` }],
    tests: [T.claims],
    names: 'more than',
  },
  {
    id: 'chain-other-contacts',
    file: CLAIM,
    edits: [
      {
        search: `WHERE n.subscription_id = h.sub AND n.contact_id = h.contact AND n.event_seq > h.seq`,
        replace: `WHERE n.subscription_id = h.sub AND n.event_seq > h.seq`,
      },
    ],
    tests: [T.claims],
    names: 'interleave',
  },
  // ── completion ──
  {
    id: 'complete-lost-lease',
    file: COMPLETE,
    edits: [
      {
        search: `AND d.status = u.leased AND d.attempts = u.attempt\n       RETURNING`,
        replace: `\n       RETURNING`,
      },
    ],
    tests: [T.claims],
    names: 'lease was lost',
  },
  {
    id: 'complete-retry-is-final',
    file: COMPLETE,
    edits: [
      {
        search: `WHEN 'retry' THEN 'pending' ELSE 'failed' END`,
        replace: `WHEN 'retry' THEN 'failed' ELSE 'failed' END`,
      },
    ],
    tests: [T.retries],
    names: 'retried on the schedule',
  },
  {
    id: 'complete-retry-frees-successors',
    file: COMPLETE,
    edits: [
      {
        search: `AND p.event_seq > h.event_seq AND p.status = 'pending'`,
        replace: `AND p.event_seq < h.event_seq AND p.status = 'pending'`,
      },
    ],
    tests: [T.order],
    names: 'not due before',
  },
  {
    id: 'disable-after-5-hours',
    file: COMPLETE,
    edits: [
      {
        search: `coalesce(failing_since, now()) < now() - $2::int * interval '1 day'\n                       THEN 'disabled'`,
        replace: `coalesce(failing_since, now()) < now() - $2::int * interval '1 hour'\n                       THEN 'disabled'`,
      },
    ],
    tests: [T.boundaries],
  },
  {
    id: 'disable-never',
    file: COMPLETE,
    edits: [{ search: `THEN 'disabled' ELSE status END`, replace: `THEN status ELSE status END` }],
    tests: [T.boundaries],
    names: 'five days and a minute',
  },
  {
    id: 'success-keeps-failing-since',
    file: COMPLETE,
    edits: [
      {
        search: `SET last_success_at = now(), failing_since = NULL`,
        replace: `SET last_success_at = now()`,
      },
    ],
    tests: [T.boundaries],
  },
  {
    id: 'restart-releases-nothing',
    file: RELEASE,
    edits: [
      {
        search: `attempts = attempts - 1, next_attempt_at = now()\n     WHERE status = 'sending'`,
        replace: `attempts = attempts - 1, next_attempt_at = now()\n     WHERE status = 'pending'`,
      },
    ],
    tests: [T.recovery],
  },
  {
    id: 'reap-frees-nothing',
    file: WORKERS,
    edits: [
      {
        search: `WHERE status = 'sending' AND leased_by = ANY ($1::text[]) AND next_attempt_at > now()`,
        replace: `WHERE status = 'sending' AND leased_by = ANY ($1::text[]) AND false`,
      },
    ],
    tests: [T.recovery],
    engine: 'postgres',
  },
  // ── replay ──
  {
    id: 'replay-requeue-ignores-since',
    file: REPLAY,
    edits: [
      {
        search: `AND d.created_at >= $2 AND d.event_seq IS NOT NULL`,
        replace: `AND d.event_seq IS NOT NULL`,
      },
    ],
    tests: [T.boundaries],
  },
  {
    id: 'replay-create-ignores-since',
    file: REPLAY,
    edits: [
      {
        search: `WHERE e.location_id = s.location_id AND e.event_timestamp >= $2`,
        replace: `WHERE e.location_id = s.location_id`,
      },
      {
        search: `e.organization_id = s.organization_id AND e.event_timestamp >= $2) e`,
        replace: `e.organization_id = s.organization_id) e`,
      },
    ],
    tests: [T.boundaries],
  },
  {
    id: 'replay-any-status',
    file: REPLAY,
    edits: [{ search: ` AND d.status = ANY ($3::text[])`, replace: `` }],
    tests: [T.boundaries],
  },
  {
    id: 'replay-other-locations',
    file: REPLAY,
    edits: [
      {
        search: `WHERE e.location_id = s.location_id AND e.event_timestamp >= $2`,
        replace: `WHERE e.organization_id = s.organization_id AND e.event_timestamp >= $2`,
      },
    ],
    tests: [T.boundaries],
  },
  {
    id: 'replay-other-event-types',
    file: REPLAY,
    edits: [{ search: `AND (s.event_types IS NULL OR e.event_type = ANY (s.event_types))`, replace: `` }],
    tests: [T.boundaries],
  },
  {
    id: 'replay-duplicates',
    file: REPLAY,
    edits: [
      {
        search: `AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.event_seq = e.seq)`,
        replace: ``,
      },
    ],
    tests: [T.boundaries],
  },
  // ── purge ──
  {
    id: 'purge-after-30-hours',
    file: RETENTION,
    edits: [
      {
        search: `AND event_timestamp < now() - $1::int * interval '1 day'`,
        replace: `AND event_timestamp < now() - $1::int * interval '1 hour'`,
      },
    ],
    tests: [T.retention],
  },
  {
    id: 'purge-no-limit',
    file: RETENTION,
    edits: [{ search: `ORDER BY seq LIMIT $2)`, replace: `ORDER BY seq)` }],
    tests: [T.retention],
  },
  {
    id: 'purge-leaves-deliveries',
    file: RETENTION,
    edits: [
      {
        search: `DELETE FROM deliveries WHERE event_seq < $3 AND event_seq IN (SELECT seq FROM gone) RETURNING id`,
        replace: `SELECT id FROM deliveries WHERE event_seq < $3 AND event_seq IN (SELECT seq FROM gone)`,
      },
    ],
    tests: [T.retention],
  },
  {
    id: 'purge-leaves-attempts',
    file: RETENTION,
    edits: [
      {
        search: `DELETE FROM delivery_attempts\n       WHERE event_seq < $3`,
        replace: `SELECT 1 FROM delivery_attempts\n       WHERE event_seq < $3`,
      },
    ],
    tests: [T.retention],
  },
];

/** The file with the mutant's edits applied; throws when a search string is missing or not unique. */
export function plant(source: string, m: SqlMutant): string {
  let out = source;
  for (const e of m.edits) {
    const count = out.split(e.search).length - 1;
    if (count !== 1) {
      throw new Error(
        `${m.id}: the text to replace occurs ${count} times in ${m.file} (expected once; was the file changed or split?):\n${e.search}`,
      );
    }
    out = out.replace(e.search, () => e.replace);
  }
  return out;
}
