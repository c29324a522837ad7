import { describe, expect, test } from 'vitest';
import { RateMeter } from '../../src/delivery/rate-meter.js';

// The worker sizes an endpoint's share of prefetched chains by the pace it has shown; an endpoint
// whose first second is still being measured has shown none yet, which is not a pace of zero.
describe('RateMeter', () => {
  test('has no pace until a first second has been measured', () => {
    const m = new RateMeter(0);
    for (let t = 0; t < 900; t += 10) m.hit(t);
    expect(m.perSecond(999)).toBeUndefined();
    expect(m.perSecond(1000)).toBeCloseTo(90);
  });

  test('keeps its best second, fading by a fiftieth a second, and follows a faster one', () => {
    const m = new RateMeter(0);
    for (let i = 0; i < 500; i++) m.hit(i);
    expect(m.perSecond(1000)).toBeCloseTo(500);
    // a slower second does not lower it below the faded best
    for (let i = 0; i < 10; i++) m.hit(1000 + i);
    expect(m.perSecond(2000)).toBeCloseTo(500 * 0.98);
    // an idle minute fades it
    expect(m.perSecond(62_000)).toBeCloseTo(500 * 0.98 * 0.98 ** 60, 5);
    for (let i = 0; i < 2000; i++) m.hit(62_000 + i / 2);
    expect(m.perSecond(63_000)).toBeCloseTo(2000);
  });
});
