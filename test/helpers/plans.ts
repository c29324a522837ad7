import type { Queryable } from '../../src/store/db.js';
import { createSubscription } from '../../src/store/subscriptions.js';
import { createLocation, createOrganization } from '../../src/store/tenants.js';

/** One node of a plan as `EXPLAIN (ANALYZE, FORMAT JSON)` gives it: the fields the plan tests read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** The plan of a statement, run under `EXPLAIN (ANALYZE, FORMAT JSON)` (which executes it). */
export async function explainAnalyze(
  q: Queryable,
  text: string,
  params?: readonly unknown[],
): Promise<PlanNode> {
  const res = await q.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
    params,
  );
  return res.rows[0]!['QUERY PLAN'][0]!.Plan;
}

/** Every node of a plan, the plan first. */
export function planNodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(planNodes)];
}

/** Rows a node read, returned or thrown away by a filter or a recheck, over all its loops. */
export const rowsOf = (n: PlanNode): number =>
  (n['Actual Rows'] + (n['Rows Removed by Filter'] ?? 0) + (n['Rows Removed by Index Recheck'] ?? 0)) *
  n['Actual Loops'];

/**
 * A `Queryable` on `q` that runs each statement under EXPLAIN ANALYZE and gives its plan to
 * `onPlan`; it answers `rows` when given (the statement's own answer is not read), or else the
 * statement's answer, from running it again.
 */
export function explaining(
  q: Queryable,
  onPlan: (plan: PlanNode, text: string) => void,
  rows?: object[],
): Queryable {
  return {
    query: async <R extends object>(text: string, params?: readonly unknown[]) => {
      onPlan(await explainAnalyze(q, text, params), text);
      return rows ? { rows: rows as R[], rowCount: 0 } : q.query<R>(text, params);
    },
  };
}

/**
 * An organization with one location (default group Leads) and a subscription to it, written to the
 * store directly: the setup of the plan tests, which then write deliveries by SQL. `name` tells the
 * tests' rows apart (the subscription's URL, secret and the tenant's names).
 */
export async function locationWithSubscription(db: Queryable, name: string) {
  const org = await createOrganization(db, `${name} org`);
  const location = await createLocation(db, {
    name: `${name} gym`,
    organizationId: org.id,
    defaultContactGroupId: 1,
  });
  const sub = await createSubscription(db, {
    url: `https://${name}.example.com/hook`,
    eventTypes: null,
    locationId: location.id,
    organizationId: org.id,
    description: null,
    secret: `whsec_${name}`,
  });
  return { org, location, sub };
}
