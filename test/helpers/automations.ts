import type { TestApi } from './api.js';
import { allEvents, waitFor } from './events.js';

/**
 * The events after `after` once at least `n` are readable: the pull API holds back events while
 * an older transaction anywhere on the server may still commit, so a read can briefly lag behind.
 */
export const eventsWhen = (api: TestApi, after: string, n: number) =>
  waitFor(async () => {
    const r = await allEvents(api, after);
    return r.events.length >= n ? r : undefined;
  }, `${n} events after ${after}`);

export const rulesUrl = (loc: number) => `/api/locations/${loc}/automations`;

export async function addRule(api: TestApi, loc: number, rule: object): Promise<number> {
  return (await api.create(rulesUrl(loc), { name: 'rule', ...rule })).ruleId as number;
}

export const history = async (api: TestApi, id: number) =>
  (await api.get(`/api/contacts/${id}/history`)).body.data as {
    seq: number;
    source: string;
    actor: number | null;
    actorType: string;
    changes: Record<string, { from: unknown; to: unknown }>;
  }[];

export const becomes = (field: string, to: unknown, sources?: string[]) => ({
  type: 'field_changed',
  field,
  to,
  ...(sources ? { sources } : {}),
});
export const set = (fields: object) => ({ set: fields });
