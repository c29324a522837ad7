import { useState } from 'preact/hooks';
import { api, type Timeline } from '../api';
import { BASE } from '../paths';
import { useResource } from '../resource';
import { Badge, Loaded, when } from '../ui';

/** Steps of history per page of the timeline (a page is extended to the end of its last window). */
export const TIMELINE_PAGE = 10;

/** The first `pages` pages of a contact's timeline, following the API's cursor, as one. */
async function readTimeline(contactId: number, pages: number) {
  let merged: Timeline | undefined;
  let after: number | undefined;
  for (let n = 0; n < pages; n++) {
    const r = await api.GET('/api/contacts/{contactId}/timeline', {
      params: {
        path: { contactId },
        query: { limit: TIMELINE_PAGE, ...(after !== undefined ? { after } : {}) },
      },
    });
    if (r.data === undefined) return r;
    merged = merged === undefined ? r.data : { ...r.data, windows: [...merged.windows, ...r.data.windows] };
    if (r.data.nextCursor === null) break;
    after = Number(r.data.nextCursor);
  }
  return { data: merged, error: undefined, response: new Response() };
}

const show = (v: unknown): string =>
  v === null || v === undefined ? '∅' : typeof v === 'string' ? v : JSON.stringify(v);

/**
 * A contact's timeline: every history step (who, from which source, before → after), grouped by
 * the coalescing window it fell into, the events each window produced, and each event's deliveries
 * to the subscriptions this key may see: why a partner did, or did not, get a change.
 */
export function ContactPage({ id }: { id: string }) {
  const contactId = Number(id);
  const contact = useResource(
    () => api.GET('/api/contacts/{contactId}', { params: { path: { contactId } } }),
    [id],
  );
  // how many pages of the timeline are shown; each read (and each poll) reads them all again
  const [pages, setPages] = useState(1);
  const timeline = useResource(() => readTimeline(contactId, pages), [id, pages], 5000);
  return (
    <>
      <Loaded data={contact.data} error={contact.error}>
        {(c) => (
          <h1>
            {[c.firstName, c.lastName].filter(Boolean).join(' ') || 'Contact'}{' '}
            <span class="muted">#{c.contactId}</span>
          </h1>
        )}
      </Loaded>
      <h2>Timeline</h2>
      <Loaded data={timeline.data} error={timeline.error}>
        {(t) => {
          const url = new Map(t.subscriptions.map((s) => [s.id, s.url]));
          return (
            <>
              <p>
                Endpoints that can receive this contact's changes:{' '}
                {t.subscriptions.length === 0
                  ? 'none you can see.'
                  : t.subscriptions.map((s, i) => (
                      <span key={s.id}>
                        {i > 0 && ', '}
                        <a href={`${BASE}/endpoints/${s.id}`}>{s.url}</a> <Badge value={s.status} />
                      </span>
                    ))}
              </p>
              <ol class="timeline">
                {t.windows.map((w, wi) => (
                  <li key={w.windowId ?? `w${wi}`} data-window={wi + 1}>
                    <h3>
                      Window {wi + 1} <Badge value={w.state} />{' '}
                      <span class="muted">
                        {w.state === 'open'
                          ? `closes ${when(w.closesAt)}`
                          : w.state === 'closed'
                            ? `${when(w.openedAt)} – ${when(w.closedAt)}`
                            : 'before the window log'}
                      </span>
                    </h3>
                    <h4>Changes</h4>
                    <ul>
                      {w.steps.map((step) => (
                        <li key={step.seq}>
                          <strong>{step.operation}</strong>{' '}
                          <span class="muted">
                            by {step.actorType}
                            {step.actor !== null ? ` ${step.actor}` : ''} via {step.source}, {when(step.at)}
                          </span>
                          <ul>
                            {Object.entries(step.changes).map(([field, c]) => (
                              <li key={field}>
                                <code>{field}</code>: {show(c.from)} → {show(c.to)}
                              </li>
                            ))}
                          </ul>
                        </li>
                      ))}
                    </ul>
                    <h4>Events</h4>
                    {w.events.length === 0 ? (
                      <p class="muted">
                        {w.state === 'open'
                          ? 'None yet: the window is still open.'
                          : 'None: nothing to report.'}
                      </p>
                    ) : (
                      <ul>
                        {w.events.map((e) => (
                          <li key={e.eventId} data-event={e.eventType}>
                            <code>{e.eventType}</code>
                            <ul>
                              {e.deliveries.length === 0 && <li class="muted">no delivery</li>}
                              {e.deliveries.map((d) => (
                                <li key={d.id}>
                                  to {url.get(d.subscriptionId) ?? d.subscriptionId}:{' '}
                                  <Badge value={d.status} />{' '}
                                  <a href={`${BASE}/deliveries/${d.id}`}>
                                    {d.attempts} {d.attempts === 1 ? 'attempt' : 'attempts'}
                                  </a>
                                </li>
                              ))}
                            </ul>
                          </li>
                        ))}
                      </ul>
                    )}
                  </li>
                ))}
              </ol>
              {t.nextCursor !== null && (
                <button type="button" onClick={() => setPages((n) => n + 1)}>
                  Load later changes
                </button>
              )}
            </>
          );
        }}
      </Loaded>
    </>
  );
}
