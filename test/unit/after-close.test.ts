import { describe, expect, test } from 'vitest';
import { afterClose } from '../../src/events/runner.js';

// What the closer does after a batch below its limit (src/events/runner.ts): a due window still
// open is another transaction's, and asking again at once only finds it locked again.
describe('afterClose', () => {
  test("nothing open: sleeps until woken, or for the loop's idle bound", () => {
    expect(afterClose({ heldDue: false, ms: undefined }, 1000)).toEqual({ more: false });
  });

  test('a window that fell due meanwhile: closes again at once', () => {
    expect(afterClose({ heldDue: false, ms: 0 }, 1000)).toEqual({ more: true });
    expect(afterClose({ heldDue: false, ms: -3.2 }, 1000)).toEqual({ more: true });
    expect(afterClose({ heldDue: true, ms: -1 }, 1000)).toEqual({ more: true });
  });

  test('the next window not due yet: sleeps until it is', () => {
    expect(afterClose({ heldDue: false, ms: 249.2 }, 1000)).toEqual({ more: false, nextInMs: 250 });
  });

  test('a due window another transaction holds: waits for a signal, the retry bound at most', () => {
    expect(afterClose({ heldDue: true, ms: undefined }, 1000)).toEqual({ more: false, nextInMs: 1000 });
    expect(afterClose({ heldDue: true, ms: 5000 }, 1000)).toEqual({ more: false, nextInMs: 1000 });
    // one of its own falling due sooner is not put off
    expect(afterClose({ heldDue: true, ms: 20.5 }, 1000)).toEqual({ more: false, nextInMs: 21 });
  });
});
