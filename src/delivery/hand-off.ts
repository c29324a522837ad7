import type { HandOffChain } from '../store/deliveries/fan-out.js';
import { groupBy } from '../collections.js';

/** What the local worker has room to hold, for a hand-off. */
export interface HandOffRoom {
  /** chains it may take in all */
  total: number;
  /** chains it may take for one subscription */
  forSubscription: (subscriptionId: string) => number;
  /** chains it may take for one organization */
  forOrganization: (organizationId: number) => number;
}

/**
 * The closer's new chains the local worker takes, when it cannot take them all: in turn between
 * organizations, then between the subscriptions of each (round-robin, one chain a turn), each
 * within its own room, so that one tenant's burst does not use up the room another tenant's
 * events of the same batch would have gone out in. What is not taken waits in the queue table
 * for a claim, which is fair the same way. Returns the indexes of the chains taken.
 */
export function chooseHandOff(chains: readonly HandOffChain[], room: HandOffRoom): number[] {
  const taken: number[] = [];
  if (room.total <= 0 || chains.length === 0) return taken;
  const indexes = chains.map((_, i) => i);
  let turns = [...groupBy(indexes, (i) => chains[i]!.organizationId)].map(([org, list]) => ({
    org,
    room: room.forOrganization(org),
    subs: [...groupBy(list, (i) => chains[i]!.subscriptionId)].map(([sub, waiting]) => ({
      waiting,
      next: 0,
      room: room.forSubscription(sub),
    })),
    cursor: 0,
  }));
  const open = (s: { waiting: number[]; next: number; room: number }) =>
    s.next < s.waiting.length && s.room > 0;
  for (const t of turns) t.subs = t.subs.filter(open);
  turns = turns.filter((t) => t.room > 0 && t.subs.length > 0);
  while (turns.length > 0 && taken.length < room.total) {
    for (const t of turns) {
      if (taken.length >= room.total) break;
      // this organization's next subscription in turn
      t.cursor %= t.subs.length;
      const s = t.subs[t.cursor]!;
      taken.push(s.waiting[s.next++]!);
      s.room--;
      t.room--;
      if (open(s)) t.cursor++;
      else t.subs.splice(t.cursor, 1);
    }
    turns = turns.filter((t) => t.room > 0 && t.subs.length > 0);
  }
  return taken;
}
