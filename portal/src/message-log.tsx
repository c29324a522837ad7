import { useState } from 'preact/hooks';
import { api, errorText, type EventType } from './api';
import { BASE } from './paths';
import { useResource } from './resource';
import { Alert, Badge, Loaded, Note, when } from './ui';

type Status = 'pending' | 'sending' | 'succeeded' | 'failed';
const STATUSES: Status[] = ['pending', 'sending', 'succeeded', 'failed'];

interface Filters {
  status: Status | '';
  eventType: string;
  contactId: string;
  since: string;
  until: string;
}

type EventTypeName = EventType['type'];

/** The filters as the API takes them: a contact id only when it is one, times as ISO instants. */
function query(f: Filters) {
  const contact = /^[1-9][0-9]{0,14}$/.test(f.contactId.trim()) ? Number(f.contactId.trim()) : undefined;
  return {
    limit: 200,
    ...(f.status !== '' ? { status: f.status } : {}),
    ...(f.eventType !== '' ? { eventType: f.eventType as EventTypeName } : {}),
    ...(contact !== undefined ? { contactId: contact } : {}),
    ...(f.since !== '' ? { since: new Date(f.since).toISOString() } : {}),
    ...(f.until !== '' ? { until: new Date(f.until).toISOString() } : {}),
  };
}

/**
 * What was sent to one endpoint, newest first, read again every two seconds so that a delivery in
 * flight shows its outcome without a click; each row opens to its attempts.
 */
export function MessageLog({ subscriptionId, round }: { subscriptionId: string; round: number }) {
  const [f, setF] = useState<Filters>({ status: '', eventType: '', contactId: '', since: '', until: '' });
  const catalog = useResource(() => api.GET('/api/event-types'), []);
  const log = useResource(
    () =>
      api.GET('/api/subscriptions/{id}/deliveries', {
        params: { path: { id: subscriptionId }, query: query(f) },
      }),
    [subscriptionId, f.status, f.eventType, f.contactId, f.since, f.until, round],
    2000,
  );
  const types = catalog.data?.data.map((e) => e.type) ?? [];
  return (
    <section aria-labelledby="log-heading">
      <h2 id="log-heading">Message log</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status{' '}
          <select
            aria-label="Status"
            value={f.status}
            onChange={(e) => setF({ ...f, status: e.currentTarget.value as Status | '' })}
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Event type{' '}
          <select
            aria-label="Event type"
            value={f.eventType}
            onChange={(e) => setF({ ...f, eventType: e.currentTarget.value })}
          >
            <option value="">any</option>
            {types.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Contact{' '}
          <input
            inputMode="numeric"
            size={8}
            aria-label="Contact"
            value={f.contactId}
            onInput={(e) => setF({ ...f, contactId: e.currentTarget.value })}
          />
        </label>
        <label>
          Since{' '}
          <input
            type="datetime-local"
            aria-label="Since"
            value={f.since}
            onInput={(e) => setF({ ...f, since: e.currentTarget.value })}
          />
        </label>
        <label>
          Until{' '}
          <input
            type="datetime-local"
            aria-label="Until"
            value={f.until}
            onInput={(e) => setF({ ...f, until: e.currentTarget.value })}
          />
        </label>
      </form>
      <Loaded data={log.data} error={log.error}>
        {(page) => {
          const rows = page.data;
          if (rows.length === 0) return <p>No delivery matches.</p>;
          return (
            <div class="scroll">
              <table>
                <caption class="visually-hidden">Deliveries, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Created</th>
                    <th scope="col">Event</th>
                    <th scope="col">Contact</th>
                    <th scope="col">Status</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Last answer</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((d) => (
                    <tr key={d.id} data-delivery={d.id}>
                      <td>
                        <a href={`${BASE}/deliveries/${d.id}`}>{when(d.createdAt)}</a>
                      </td>
                      <td>
                        {d.eventType}
                        {d.isTest && <span class="muted"> (test)</span>}
                      </td>
                      <td>{d.isTest ? '—' : d.contactId}</td>
                      <td>
                        <Badge value={d.status} />
                      </td>
                      <td>{d.attempts}</td>
                      <td>{d.lastStatusCode ?? d.lastError ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Loaded>
      <Replay subscriptionId={subscriptionId} onDone={log.reload} />
    </section>
  );
}

function Replay({ subscriptionId, onDone }: { subscriptionId: string; onDone: () => void }) {
  const [since, setSince] = useState('');
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    setError(null);
    if (since === '') return setError('Choose the time to replay from.');
    const {
      data,
      error: err,
      response,
    } = await api.POST('/api/subscriptions/{id}/replay', {
      params: { path: { id: subscriptionId } },
      body: { since: new Date(since).toISOString(), status: 'failed' },
    });
    if (data === undefined) return setError(errorText(err, response));
    setNote(`${data.queued} ${data.queued === 1 ? 'delivery' : 'deliveries'} queued again.`);
    onDone();
  };
  return (
    <form class="replay" onSubmit={(e) => void submit(e)} aria-labelledby="replay-heading">
      <h3 id="replay-heading">Replay</h3>
      <label for="replay-since">Everything that failed since</label>{' '}
      <input
        id="replay-since"
        type="datetime-local"
        value={since}
        onInput={(e) => setSince(e.currentTarget.value)}
      />{' '}
      <button type="submit">Replay</button>
      {note !== null && <Note>{note}</Note>}
      {error !== null && <Alert>{error}</Alert>}
    </form>
  );
}
