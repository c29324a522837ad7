import { describe, expect, test } from 'vitest';
import { chooseHandOff } from '../../src/delivery/hand-off.js';

const chain = (organizationId: number, subscriptionId: string) => ({ organizationId, subscriptionId });
const unlimited = { forSubscription: () => Infinity, forOrganization: () => Infinity };

describe('chooseHandOff', () => {
  test('with room for all, every chain is taken', () => {
    const chains = [chain(1, 'a'), chain(1, 'a'), chain(2, 'b')];
    expect(chooseHandOff(chains, { total: 10, ...unlimited }).sort()).toEqual([0, 1, 2]);
  });

  test("when the room is short, organizations take turns: one tenant's burst does not use it up", () => {
    // organization 1's burst comes first in the batch, organization 2's two chains last
    const chains = [...Array.from({ length: 100 }, () => chain(1, 'x')), chain(2, 'y'), chain(2, 'y')];
    const taken = chooseHandOff(chains, { total: 6, ...unlimited });
    expect(taken).toHaveLength(6);
    expect(taken.filter((i) => i >= 100)).toEqual([100, 101]);
  });

  test("within an organization, subscriptions take turns, and each keeps within its own and its organization's room", () => {
    const chains = [
      ...Array.from({ length: 10 }, () => chain(1, 'a')),
      ...Array.from({ length: 10 }, () => chain(1, 'b')),
      chain(1, 'c'),
    ];
    const taken = chooseHandOff(chains, {
      total: 100,
      forSubscription: (id) => (id === 'b' ? 2 : 100),
      forOrganization: () => 7,
    });
    const sub = (i: number) => chains[i]!.subscriptionId;
    expect(taken.map(sub)).toEqual(['a', 'b', 'c', 'a', 'b', 'a', 'a']);
  });

  test('no room, nothing taken', () => {
    expect(chooseHandOff([chain(1, 'a')], { total: 0, ...unlimited })).toEqual([]);
    expect(chooseHandOff([chain(1, 'a')], { total: 5, ...unlimited, forSubscription: () => 0 })).toEqual([]);
  });
});
