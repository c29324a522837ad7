import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { FairScheduler, type Started } from '../../src/delivery/scheduler.js';

const limits = { concurrency: 8, perOrganization: 8, perSubscription: 4 };

/** Starts everything the scheduler lets start now. */
function startAll<T>(s: FairScheduler<T>): Started<T>[] {
  const started: Started<T>[] = [];
  for (let n = s.next(); n; n = s.next()) started.push(n);
  return started;
}

const count = (started: readonly Started<unknown>[], org: number) =>
  started.filter((s) => s.organizationId === org).length;

describe('FairScheduler', () => {
  test('a backlog queued first does not take the slots of an organization queued after it', () => {
    const s = new FairScheduler<string>({ concurrency: 8, perOrganization: 8, perSubscription: 8 });
    for (let i = 0; i < 1000; i++) s.enqueue(1, `x${i % 4}`, `x-${i}`);
    for (let i = 0; i < 3; i++) s.enqueue(2, 'y', `y-${i}`);
    const started = startAll(s);
    expect(started).toHaveLength(8);
    // turns alternate between the organizations: Y's three go out among the first six
    expect(
      started
        .slice(0, 6)
        .filter((x) => x.organizationId === 2)
        .map((x) => x.item),
    ).toEqual(['y-0', 'y-1', 'y-2']);
    expect(count(started, 1)).toBe(5);
  });

  test('a freed slot goes to the organization below its share, not to the one holding the most', () => {
    const s = new FairScheduler<number>({ concurrency: 4, perOrganization: 4, perSubscription: 4 });
    for (let i = 0; i < 100; i++) s.enqueue(1, 'x', i);
    // X alone takes every slot (nobody else is waiting: work conserving)
    expect(startAll(s)).toHaveLength(4);
    for (let i = 0; i < 10; i++) s.enqueue(2, 'y', i);
    expect(s.next()).toBeUndefined();
    // as X's requests finish, the slots go to Y until Y holds its share (2 of 4)
    const after: Started<number>[] = [];
    for (let i = 0; i < 4; i++) {
      s.finished(1, 'x');
      after.push(...startAll(s));
    }
    expect(after.map((x) => x.organizationId)).toEqual([2, 2, 1, 1]);
    expect(s.inFlightOf(1)).toBe(2);
    expect(s.inFlightOf(2)).toBe(2);
  });

  test('no organization holds more than its cap, even with idle slots', () => {
    const s = new FairScheduler<number>({ concurrency: 10, perOrganization: 3, perSubscription: 10 });
    for (let i = 0; i < 50; i++) s.enqueue(1, `x${i % 5}`, i);
    expect(startAll(s)).toHaveLength(3);
    s.enqueue(2, 'y', 0);
    expect(startAll(s).map((x) => x.organizationId)).toEqual([2]);
  });

  test('within an organization its subscriptions take turns, each within its own cap', () => {
    const s = new FairScheduler<string>({ concurrency: 100, perOrganization: 100, perSubscription: 2 });
    for (let i = 0; i < 10; i++) s.enqueue(1, 'a', `a${i}`);
    s.enqueue(1, 'b', 'b0');
    s.enqueue(1, 'c', 'c0');
    expect(startAll(s).map((x) => x.item)).toEqual(['a0', 'b0', 'c0', 'a1']);
    expect(s.queued).toBe(8);
  });

  test('a subscription queues in order: its items start first in, first out', () => {
    const s = new FairScheduler<number>({ concurrency: 1, perOrganization: 1, perSubscription: 1 });
    for (let i = 0; i < 5; i++) s.enqueue(1, 'a', i);
    const out: number[] = [];
    for (let i = 0; i < 5; i++) {
      const n = s.next()!;
      out.push(n.item);
      s.finished(n.organizationId, n.subscriptionId);
    }
    expect(out).toEqual([0, 1, 2, 3, 4]);
    expect(s.next()).toBeUndefined();
  });

  test('an endpoint that stops answering shrinks to one slot, and grows back by one per answer', () => {
    const s = new FairScheduler<number>({ concurrency: 100, perOrganization: 100, perSubscription: 64 });
    expect(s.capOf('dead')).toBe(64);
    const caps: number[] = [];
    for (let i = 0; i < 8; i++) {
      s.observe('dead', 'unanswered');
      caps.push(s.capOf('dead'));
    }
    expect(caps).toEqual([32, 16, 8, 4, 2, 1, 1, 1]);
    expect(s.isThrottled('dead')).toBe(true);
    for (let i = 0; i < 1000; i++) s.enqueue(1, 'dead', i);
    expect(startAll(s)).toHaveLength(1);
    s.observe('dead', 'answered');
    expect(s.capOf('dead')).toBe(2);
    expect(startAll(s)).toHaveLength(1);
    for (let i = 0; i < 62; i++) s.observe('dead', 'answered');
    expect(s.capOf('dead')).toBe(64);
    expect(s.isThrottled('dead')).toBe(false);
    for (let i = 0; i < 10; i++) s.observe('dead', 'answered');
    expect(s.capOf('dead')).toBe(64);
  });

  test('eight dead endpoints of one organization leave the other organizations every other slot', () => {
    const s = new FairScheduler<number>({ concurrency: 16, perOrganization: 16, perSubscription: 16 });
    for (let k = 0; k < 8; k++) {
      for (let i = 0; i < 6; i++) s.observe(`x${k}`, 'unanswered');
      for (let i = 0; i < 300; i++) s.enqueue(1, `x${k}`, i);
    }
    for (let i = 0; i < 100; i++) s.enqueue(2, 'y', i);
    const started = startAll(s);
    expect(count(started, 1)).toBe(8);
    expect(count(started, 2)).toBe(8);
  });

  test('drain gives back every waiting item and keeps the count of those in flight', () => {
    const s = new FairScheduler<number>(limits);
    for (let i = 0; i < 20; i++) s.enqueue(1 + (i % 2), `s${i % 4}`, i);
    const started = startAll(s);
    const drained = s.drain();
    expect(started.length + drained.length).toBe(20);
    expect(s.queued).toBe(0);
    expect(s.inFlight).toBe(started.length);
    for (const x of started) s.finished(x.organizationId, x.subscriptionId);
    expect(s.inFlight).toBe(0);
    expect([...s.subscriptions()]).toEqual([]);
  });

  test('whatever arrives and finishes, the caps hold, nothing is lost, and an organization with work waiting gets its share', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('enqueue' as const),
        org: fc.integer({ min: 1, max: 4 }),
        sub: fc.integer({ min: 0, max: 3 }),
        n: fc.integer({ min: 1, max: 30 }),
      }),
      fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }),
      fc.record({
        kind: fc.constant('observe' as const),
        sub: fc.integer({ min: 0, max: 3 }),
        org: fc.integer({ min: 1, max: 4 }),
        ok: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const lim = { concurrency: 12, perOrganization: 8, perSubscription: 5 };
        const s = new FairScheduler<number>(lim);
        const running: Started<number>[] = [];
        const waiting = new Map<string, number>();
        // items numbered in the order they are queued, across subscriptions
        let next = 0;
        let queued = 0;
        let done = 0;
        for (const o of ops) {
          if (o.kind === 'enqueue') {
            const sub = `${o.org}/${o.sub}`;
            for (let i = 0; i < o.n; i++) s.enqueue(o.org, sub, next++);
            waiting.set(sub, (waiting.get(sub) ?? 0) + o.n);
            queued += o.n;
          } else if (o.kind === 'finish' && running.length > 0) {
            const [x] = running.splice(o.pick % running.length, 1);
            s.finished(x!.organizationId, x!.subscriptionId);
            done++;
          } else if (o.kind === 'observe') s.observe(`${o.org}/${o.sub}`, o.ok ? 'answered' : 'unanswered');
          const started = startAll(s);
          for (const x of started) waiting.set(x.subscriptionId, waiting.get(x.subscriptionId)! - 1);
          running.push(...started);
          const perOrg = new Map<number, number>();
          const perSub = new Map<string, number>();
          for (const x of running) {
            perOrg.set(x.organizationId, (perOrg.get(x.organizationId) ?? 0) + 1);
            perSub.set(x.subscriptionId, (perSub.get(x.subscriptionId) ?? 0) + 1);
          }
          expect(running.length).toBeLessThanOrEqual(lim.concurrency);
          for (const n of perOrg.values()) expect(n).toBeLessThanOrEqual(lim.perOrganization);
          for (const n of perSub.values()) expect(n).toBeLessThanOrEqual(lim.perSubscription);
          expect(s.inFlight).toBe(running.length);
          expect(s.queued + running.length + done).toBe(queued);
          // a subscription with work waiting and room under its own cap and its organization's
          // waits only because every slot is taken
          for (const [sub, n] of waiting) {
            const org = Number(sub.split('/')[0]);
            const free =
              n > 0 && (perSub.get(sub) ?? 0) < s.capOf(sub) && (perOrg.get(org) ?? 0) < lim.perOrganization;
            if (free) expect(running.length).toBe(lim.concurrency);
          }
          // the order of a subscription's items is kept
          for (const sub of perSub.keys()) {
            const items = running.filter((x) => x.subscriptionId === sub).map((x) => x.item);
            expect(items).toEqual([...items].sort((a, b) => a - b));
          }
        }
      }),
    );
  });
});
