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
          <Attempts id={del.id} round={del.attemptLog.length} />
        </>
      )}
    </Loaded>
  );
}

/**
 * Every attempt, oldest first: the request exactly as sent (every header, the signatures among
 * them, and the body's bytes) and the answer (status, latency, body, error).
 */
function Attempts({ id, round }: { id: string; round: number }) {
  const attempts = useResource(
    () => api.GET('/api/deliveries/{id}/attempts', { params: { path: { id } } }),
    [id, round],
  );
  return (
    <section aria-labelledby="attempts-heading">
      <h2 id="attempts-heading">Attempts</h2>
      <Loaded data={attempts.data} error={attempts.error}>
        {(list) =>
          list.data.length === 0 ? (
            <p>No attempt yet.</p>
          ) : (
            <ol class="attempts">
              {list.data.map((a, i) => (
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
                  {a.responseBody !== null && a.responseBody !== '' && (
                    <Json label={`Answer body of attempt ${i + 1}`} value={a.responseBody} />
                  )}
                  {a.request !== null && (
                    <details>
                      <summary>Request as sent</summary>
                      <Json
                        label={`Request headers of attempt ${i + 1}`}
                        value={Object.entries(a.request.headers)
                          .map(([k, v]) => `${k}: ${v}`)
                          .join('\n')}
                      />
                      <Json label={`Request body of attempt ${i + 1}`} value={a.request.body} />
                    </details>
                  )}
                </li>
              ))}
            </ol>
          )
        }
      </Loaded>
    </section>
  );
}
