import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets its old generation grow past what was live after a full collection before it
 * collects again, in percent (`FPT_HEAP_GROWING_PERCENT`; docs/design.md, "The V8 heap in a
 * burst"). 100: the heap may reach twice the live data. 0 leaves it to V8, which picks a factor
 * between 1.1 and 4 from how fast the program allocates, and allows 4 wherever its heap limit is
 * 2 GB or more (any machine with 8 GB of memory or more): a delivery burst, which promotes a lot
 * of short-lived garbage, then held four times its ~50 MB of live data.
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 100;

/**
 * Sets V8's heap growing factor for this process (0: V8's own). It is read at every full
 * collection, so it applies from the next one on; the process's other V8 flags are untouched.
 */
export function applyHeapGrowth(
  percent: number,
  setFlags: (flags: string) => void = setFlagsFromString,
): void {
  if (percent > 0) setFlags(`--heap-growing-percent=${percent}`);
}
