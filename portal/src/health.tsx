import { useState } from 'preact/hooks';
import { api } from './api';
import { useResource } from './resource';
import { Loaded } from './ui';

type Window = '1h' | '24h' | '7d';
const WINDOWS: [Window, string][] = [
  ['1h', 'Last hour'],
  ['24h', 'Last day'],
  ['7d', 'Last week'],
];

const W = 600;
const H = 80;

/**
 * Bars, one per bucket, scaled to `max`; later series drawn over earlier ones (attempts in red,
 * then the succeeded ones over them in green, leaves the failed part red). Hand-drawn SVG like the
 * sparkline.
 */
function Bars(props: { series: { values: (number | null)[]; cls: string }[]; max: number; label: string }) {
  const n = Math.max(props.series[0]?.values.length ?? 0, 1);
  const bw = W / n;
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${W} ${H}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={props.label}
    >
      <line x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} class="axis" />
      {props.series.map((s) =>
        s.values.map((v, i) =>
          v === null || v === 0 ? null : (
            <rect
              key={`${s.cls}-${i}`}
              x={i * bw}
              width={Math.max(bw - 1, 1)}
              y={H - (v / props.max) * H}
              height={(v / props.max) * H}
              class={s.cls}
            />
          ),
        ),
      )}
    </svg>
  );
}

const pct = (n: number, d: number) => (d === 0 ? '—' : `${Math.round((n / d) * 1000) / 10}%`);

/**
 * An endpoint's health over the last hour, day or week (`GET /api/subscriptions/{id}/health`):
 * success rate, latency p50/p99 and the answers' status codes, per bucket.
 */
export function Health({ subscriptionId, round }: { subscriptionId: string; round: number }) {
  const [win, setWin] = useState<Window>('24h');
  const health = useResource(
    () =>
      api.GET('/api/subscriptions/{id}/health', {
        params: { path: { id: subscriptionId }, query: { window: win } },
      }),
    [subscriptionId, win, round],
    10_000,
  );
  return (
    <section aria-labelledby="health-heading">
      <h2 id="health-heading">Health</h2>
      <fieldset class="windows">
        <legend class="visually-hidden">Period</legend>
        {WINDOWS.map(([w, label]) => (
          <label key={w} class="check">
            <input type="radio" name="health-window" checked={w === win} onChange={() => setWin(w)} /> {label}
          </label>
        ))}
      </fieldset>
      <Loaded data={health.data} error={health.error}>
        {(h) => {
          const codes = Object.entries(h.totals.statusCodes).sort(([a], [b]) => a.localeCompare(b));
          const maxAttempts = Math.max(1, ...h.buckets.map((b) => b.attempts));
          const maxP99 = Math.max(1, ...h.buckets.map((b) => b.p99Ms ?? 0));
          return (
            <>
              <dl class="details" data-testid="health-totals">
                <dt>Attempts</dt>
                <dd>{h.totals.attempts}</dd>
                <dt>Success rate</dt>
                <dd>{pct(h.totals.succeeded, h.totals.attempts)}</dd>
                <dt>Latency p50 / p99</dt>
                <dd>
                  {h.totals.p50Ms ?? '—'} ms / {h.totals.p99Ms ?? '—'} ms
                </dd>
                <dt>Answers</dt>
                <dd>{codes.length === 0 ? '—' : codes.map(([c, n]) => `${c}: ${n}`).join(', ')}</dd>
              </dl>
              <div class="charts">
                <figure>
                  <figcaption>Attempts: succeeded (green) and failed (red)</figcaption>
                  <Bars
                    series={[
                      { values: h.buckets.map((b) => b.attempts), cls: 'bar-failed' },
                      { values: h.buckets.map((b) => b.succeeded), cls: 'bar-ok' },
                    ]}
                    max={maxAttempts}
                    label={`attempts per bucket: ${h.totals.succeeded} succeeded, ${h.totals.failed} failed`}
                  />
                </figure>
                <figure>
                  <figcaption>Latency p99 (ms, up to {maxP99})</figcaption>
                  <Bars
                    series={[{ values: h.buckets.map((b) => b.p99Ms), cls: 'bar-latency' }]}
                    max={maxP99}
                    label="latency p99 per bucket"
                  />
                </figure>
              </div>
            </>
          );
        }}
      </Loaded>
    </section>
  );
}
