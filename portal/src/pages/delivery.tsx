import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { BASE } from '../paths';
import { useResource } from '../resource';
import { Alert, Badge, Json, Loaded, Note, when } from '../ui';

/** One delivery: its event, every attempt with the endpoint's answer, and Retry. */
export function DeliveryPage({ id }: { id: string }) {
  const d = useResource(() => api.GET('/api/deliveries/{id}', { params: { path: { id } } }), [id], 2000);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const retry = async () => {
    setNote(null);
    setError(null);
    const {
      data,
      error: err,
      response,
    } = await api.POST('/api/deliveries/{id}/retry', {
      params: { path: { id } },
    });
    if (data === undefined) return setError(errorText(err, response));
    setNote(
      data.waitingBehind === null
        ? 'Queued again: it is sent at once.'
        : `Queued again, behind delivery ${data.waitingBehind.id} (${data.waitingBehind.eventType}) of the same contact.`,
    );
    d.reload();
  };
  return (
    <Loaded data={d.data} error={d.error}>
      {(del) => (
        <>
          <h1>Delivery of {del.eventType}</h1>
          <p>
            <a href={`${BASE}/endpoints/${del.subscriptionId}`}>Back to the endpoint</a>
          </p>
          <dl class="details">
            <dt>Status</dt>
            <dd>
              <Badge value={del.status} />
            </dd>
            <dt>Event</dt>
            <dd>
              <code>{del.eventId}</code>
              {del.isTest && ' (test event)'}
            </dd>
            <dt>Contact</dt>
            <dd>{del.isTest ? '—' : <a href={`${BASE}/contacts/${del.contactId}`}>{del.contactId}</a>}</dd>
            <dt>Created</dt>
            <dd>{when(del.createdAt)}</dd>
            <dt>Next attempt</dt>
            <dd>{when(del.nextAttemptAt)}</dd>
          </dl>
          <button type="button" onClick={() => void retry()}>
            Retry
          </button>
          {note !== null && <Note>{note}</Note>}
          {error !== null && <Alert>{error}</Alert>}
          <EventBody eventId={del.eventId} isTest={del.isTest} />
          <h2>Attempts</h2>
          {del.attemptLog.length === 0 ? (
            <p>No attempt yet.</p>
          ) : (
            <ol class="attempts">
              {del.attemptLog.map((a, i) => (
                // numbered in order here: a retry's attempts are numbered from 1 again on the wire
                <li key={i} data-attempt={i + 1}>
                  <h3>
                    Attempt {i + 1}: <Badge value={a.outcome} />
                    {a.attempt !== i + 1 && (
                      <span class="muted"> (sent as attempt {a.attempt}, after a retry)</span>
                    )}
                  </h3>
                  <dl class="details">
                    <dt>At</dt>
                    <dd>{when(a.at)}</dd>
                    <dt>Answer</dt>
                    <dd>{a.statusCode !== null ? `HTTP ${a.statusCode}` : 'no answer'}</dd>
                    <dt>Latency</dt>
                    <dd>{a.durationMs} ms</dd>
                    {a.error !== null && (
                      <>
                        <dt>Error</dt>
                        <dd>{a.error}</dd>
                      </>
                    )}
                  </dl>
                  {a.responseBody !== null && (
                    <Json label={`Answer body of attempt ${i + 1}`} value={a.responseBody} />
                  )}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </Loaded>
  );
}

/** The body the endpoint received: the event's envelope, as the events API keeps it. */
function EventBody({ eventId, isTest }: { eventId: string; isTest: boolean }) {
  const ev = useResource(
    () => api.GET('/api/events/{eventId}', { params: { path: { eventId } } }),
    [eventId],
  );
  if (isTest && ev.data === undefined) return null;
  return (
    <section aria-labelledby="body-heading">
      <h2 id="body-heading">Request body</h2>
      <Loaded data={ev.data} error={ev.error}>
        {(e) => <Json label="Request body" value={e} />}
      </Loaded>
    </section>
  );
}
