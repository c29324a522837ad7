/**
 * The comparison the hanging and isolation drills end with: a healthy subscription's latency in a
 * first phase alone and in a second beside endpoints that never answer, as figures, and the p99
 * bound both drills hold it to.
 */
import { arrivalLatencies, firstArrivals, readArrivals } from './api.js';
import { percentile, type DrillContext } from './drill.js';

export interface PhaseLatencies {
  /** the healthy subscription's latencies in each phase, sorted (ms) */
  alone: number[];
  beside: number[];
  /** requests the never-answering endpoints held until the timeout */
  hung: number;
}

const summary = (l: readonly number[]) =>
  `n=${l.length} p50 ${percentile([...l], 50)} ms, p99 ${percentile([...l], 99)} ms, max ${l.at(-1)} ms`;

/** Reads the arrivals of subscription `sub`, reports both phases and fails the drill if either delivered nothing. */
export function comparePhases(
  ctx: DrillContext<unknown>,
  o: { sub: string; phaseA: number; phaseB: number; end: number; labels: [string, string, string] },
): PhaseLatencies {
  const arrivals = readArrivals(ctx.dir);
  const first = firstArrivals(arrivals, o.sub);
  const alone = arrivalLatencies(first, o.phaseA, o.phaseB);
  const beside = arrivalLatencies(first, o.phaseB, o.end);
  const hung = arrivals.filter((x) => x.hang).length;
  ctx.figure(o.labels[0], summary(alone));
  ctx.figure(o.labels[1], summary(beside));
  ctx.figure(o.labels[2], hung);
  if (hung === 0) ctx.fail('the endpoint that never answers got no request: the drill tested nothing');
  if (alone.length === 0 || beside.length === 0) ctx.fail('a phase delivered no event');
  return { alone, beside, hung };
}

/** Whether the second phase's p99 is within 1.5× the first's plus 250 ms (room for a shared, noisy machine). */
export function p99Within(l: PhaseLatencies): { ok: boolean; alone: number; beside: number } {
  const alone = percentile(l.alone, 99);
  const beside = percentile(l.beside, 99);
  return { ok: beside <= 1.5 * alone + 250, alone, beside };
}

/** The options both two-phase drills take. */
export const PHASE_OPTIONS = {
  engine: { type: 'string' },
  seconds: { type: 'string' },
  rate: { type: 'string' },
  contacts: { type: 'string' },
  built: { type: 'boolean' },
} as const;
