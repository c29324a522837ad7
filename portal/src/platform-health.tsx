import { api } from './api';
import { useResource } from './resource';
import { Loaded } from './ui';

const W = 600;
const H = 80;

/**
 * The platform's health (`GET /api/platform/health`, the operator's): delivery lag and backlog,
 * open windows, live workers, endpoints by status, and the last hour's attempts per minute as
 * bars (attempts in red, the succeeded ones over them in green). Read again every 10 s.
 */
export function PlatformHealth() {
  const health = useResource(() => api.GET('/api/platform/health'), [], 10_000);
  return (
    <section aria-labelledby="platform-heading">
      <h2 id="platform-heading">Platform health</h2>
      <Loaded data={health.data} error={health.error}>
        {(h) => {
          const max = Math.max(1, ...h.perMinute.map((m) => m.attempts));
          const bw = W / Math.max(h.perMinute.length, 1);
          const ok = h.perMinute.reduce((n, m) => n + m.succeeded, 0);
          const failed = h.perMinute.reduce((n, m) => n + m.failed, 0);
          return (
            <>
              <dl class="details" data-testid="platform-figures">
                <dt>Delivery lag</dt>
                <dd>{h.deliveryLagSeconds} s</dd>
                <dt>Backlog</dt>
                <dd>
                  {h.backlog.pending} pending, {h.backlog.sending} sending
                </dd>
                <dt>Open windows</dt>
                <dd>{h.openWindows}</dd>
                <dt>Live workers</dt>
                <dd>{h.liveWorkers}</dd>
                <dt>Endpoints</dt>
                <dd>
                  {h.subscriptions.active} active, {h.subscriptions.paused} paused, {h.subscriptions.disabled}{' '}
                  disabled
                </dd>
              </dl>
              <figure>
                <figcaption>
                  Delivery attempts per minute, last hour: succeeded (green) and failed (red)
                </figcaption>
                <svg
                  class="chart"
                  viewBox={`0 0 ${W} ${H}`}
                  preserveAspectRatio="none"
                  role="img"
                  aria-label={`last hour: ${ok} attempts succeeded, ${failed} failed`}
                >
                  <line x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} class="axis" />
                  {h.perMinute.map((m, i) => (
                    <g key={m.start}>
                      {m.attempts > 0 && (
                        <rect
                          x={i * bw}
                          width={Math.max(bw - 1, 1)}
                          y={H - (m.attempts / max) * H}
                          height={(m.attempts / max) * H}
                          class="bar-failed"
                        />
                      )}
                      {m.succeeded > 0 && (
                        <rect
                          x={i * bw}
                          width={Math.max(bw - 1, 1)}
                          y={H - (m.succeeded / max) * H}
                          height={(m.succeeded / max) * H}
                          class="bar-ok"
                        />
                      )}
                    </g>
                  ))}
                </svg>
              </figure>
            </>
          );
        }}
      </Loaded>
    </section>
  );
}
