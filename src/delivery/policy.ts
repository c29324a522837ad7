/** The delays after attempts 1, 2, … ; after the last one the delivery fails. */
export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_RE = /^(\d+)(ms|s|m|h|d)$/;

const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;

/** Milliseconds from a duration such as `250ms`, `5s`, `5m`, `2h` or `1d` (whole numbers only). */
export function parseDuration(s: string): number {
  const token = s.trim();
  const match = DURATION_RE.exec(token);
  const amount = match?.[1];
  const unit = match?.[2] as keyof typeof UNIT_MS | undefined;
  if (amount === undefined || unit === undefined) {
    throw new Error(
      `bad duration "${s}": expected a whole number and a unit (ms, s, m, h or d), like 5s or 2h`,
    );
  }
  const ms = Number(amount) * UNIT_MS[unit];
  if (!Number.isSafeInteger(ms)) throw new Error(`bad duration "${s}": too large`);
  return ms;
}

/** The delays of `FPT_RETRY_SCHEDULE`: comma-separated durations, at least one, each above zero. */
export function parseRetrySchedule(s: string): number[] {
  if (s.trim() === '') {
    throw new Error('FPT_RETRY_SCHEDULE is empty: list at least one delay, like 5s,5m,30m');
  }
  return s.split(',').map((raw, i) => {
    const token = raw.trim();
    if (token === '') {
      throw new Error(`FPT_RETRY_SCHEDULE "${s}": entry ${i + 1} is empty (a stray comma?)`);
    }
    let ms: number;
    try {
      ms = parseDuration(token);
    } catch (err) {
      throw new Error(`FPT_RETRY_SCHEDULE "${s}": entry ${i + 1}: ${(err as Error).message}`);
    }
    if (ms <= 0) throw new Error(`FPT_RETRY_SCHEDULE "${s}": entry ${i + 1} ("${token}") must be above zero`);
    return ms;
  });
}

/**
 * `ms` moved uniformly within ±`fraction` of itself, in whole milliseconds, so that endpoints that
 * failed together (an outage) are not all retried in the same instant.
 */
export function withJitter(ms: number, random: () => number = Math.random, fraction = 0.2): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`withJitter: bad delay ${ms}`);
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`withJitter: bad fraction ${fraction}`);
  const lo = Math.ceil(ms * (1 - fraction));
  const hi = Math.floor(ms * (1 + fraction));
  const r = Math.min(Math.max(random(), 0), 1);
  const jittered = Math.round(ms * (1 + fraction * (2 * r - 1)));
  // rounding can step just past a fractional bound; the bounds are the promise
  return Math.min(Math.max(jittered, lo), hi);
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MON = MONTHS.join('|');
const IMF_FIXDATE_RE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MON}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const RFC850_RE = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MON})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const ASCTIME_RE = new RegExp(
  `^(?:${DAY_NAMES.join('|')}) (${MON}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`,
);

/**
 * The unix milliseconds of an HTTP-date in any of the three forms RFC 9110 §5.6.7 tells recipients to
 * accept. `Date.parse` is not used: it accepts almost anything, and a mistaken date here decides
 * when an endpoint is called again.
 */
function parseHttpDate(s: string, nowMs: number): number | undefined {
  let day: string, month: string, year: number, hh: string, mm: string, ss: string;
  let m = IMF_FIXDATE_RE.exec(s);
  if (m) {
    [, day = '', month = '', , hh = '', mm = '', ss = ''] = m;
    year = Number(m[3]);
  } else if ((m = RFC850_RE.exec(s))) {
    [, day = '', month = '', , hh = '', mm = '', ss = ''] = m;
    // RFC 9110: a two-digit year more than 50 years ahead is the most recent past year with those digits
    const thisYear = new Date(nowMs).getUTCFullYear();
    year = 2000 + Number(m[3]);
    while (year > thisYear + 50) year -= 100;
  } else if ((m = ASCTIME_RE.exec(s))) {
    [, month = '', day = '', hh = '', mm = '', ss = ''] = m;
    year = Number(m[6]);
  } else {
    return undefined;
  }
  const monthIndex = MONTHS.indexOf(month);
  const [d, h, min, sec] = [Number(day.trim()), Number(hh), Number(mm), Number(ss)];
  if (h > 23 || min > 59 || sec > 60) return undefined;
  const ms = Date.UTC(year, monthIndex, d, h, min, Math.min(sec, 59));
  // Date.UTC rolls 31 Feb over into March; a date that does not exist is not a date
  if (new Date(ms).getUTCDate() !== d) return undefined;
  return ms;
}

/**
 * How long a `Retry-After` header asks to wait, in ms, from delta-seconds or an HTTP-date;
 * undefined when it is absent or unreadable. A wait in the past is no wait (0).
 */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (/^-?\d+$/.test(value)) {
    const seconds = Number(value);
    return Number.isFinite(seconds) ? Math.max(0, seconds * SECOND_MS) : undefined;
  }
  const at = parseHttpDate(value, nowMs);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

export type AttemptResult =
  { kind: 'response'; status: number; retryAfter?: string } | { kind: 'error'; error: string };

export type Decision =
  | { action: 'succeeded' }
  | { action: 'retry'; delayMs: number }
  | { action: 'failed'; reason: string }
  | { action: 'disable'; reason: string };

export type DecideInput = {
  result: AttemptResult;
  /** 1-based number of the attempt just made */
  attempt: number;
  /** delays in ms after attempts 1, 2, … */
  schedule: readonly number[];
  nowMs: number;
  random?: () => number;
};

/** What to do after one delivery attempt. */
export function decide(input: DecideInput): Decision {
  const { result, attempt, schedule, nowMs, random = Math.random } = input;
  if (!Number.isSafeInteger(attempt) || attempt < 1)
    throw new RangeError(`decide: bad attempt number ${attempt}`);

  if (result.kind === 'response') {
    if (result.status >= 200 && result.status < 300) return { action: 'succeeded' };
    if (result.status === 410) return { action: 'disable', reason: 'endpoint answered 410 Gone' };
  }

  if (attempt > schedule.length) {
    const plural = attempt === 1 ? '' : 's';
    return {
      action: 'failed',
      reason: `retry schedule exhausted after ${attempt} attempt${plural}; last ${describe(result)}`,
    };
  }

  if (result.kind === 'response' && (result.status === 429 || result.status === 503)) {
    const asked = parseRetryAfter(result.retryAfter, nowMs);
    // the server named its time, so no jitter; the clamp keeps one header from stalling or hammering
    if (asked !== undefined)
      return { action: 'retry', delayMs: Math.min(Math.max(asked, SECOND_MS), DAY_MS) };
  }

  const scheduled = schedule[attempt - 1] ?? 0;
  return { action: 'retry', delayMs: withJitter(scheduled, random) };
}

function describe(result: AttemptResult): string {
  if (result.kind === 'error') return `error: ${result.error}`;
  const note = result.status >= 300 && result.status < 400 ? ' (redirects are not followed)' : '';
  return `status: HTTP ${result.status}${note}`;
}
