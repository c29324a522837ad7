import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, errorText, type Subscription } from '../api';
import { EndpointForm } from '../endpoint-form';
import { Health } from '../health';
import { MessageLog } from '../message-log';
import { BASE } from '../paths';
import { useResource } from '../resource';
import { session } from '../session';
import { Alert, Badge, Confirm, Loaded, Note, SecretOnce, when } from '../ui';

export function EndpointPage({ id }: { id: string }) {
  const sub = useResource(() => api.GET('/api/subscriptions/{id}', { params: { path: { id } } }), [id]);
  const [logRound, setLogRound] = useState(0);
  return (
    <Loaded data={sub.data} error={sub.error}>
      {(s) => (
        <>
          <h1>
            Endpoint <span class="url">{s.url}</span>
          </h1>
          <Details s={s} />
          <Actions s={s} onChange={sub.reload} onTestSent={() => setLogRound((n) => n + 1)} />
          <Health subscriptionId={s.id} round={logRound} />
          <MessageLog subscriptionId={s.id} round={logRound} />
        </>
      )}
    </Loaded>
  );
}

function Details({ s }: { s: Subscription }) {
  return (
    <dl class="details">
      <dt>Status</dt>
      <dd>
        <Badge value={s.status} />
        {s.disabledReason && <span> ({s.disabledReason})</span>}
      </dd>
      <dt>Description</dt>
      <dd>{s.description ?? '—'}</dd>
      <dt>Event types</dt>
      <dd>{s.eventTypes === null ? 'every event type' : s.eventTypes.join(', ')}</dd>
      <dt>Scope</dt>
      <dd>{s.locationId !== null ? `location ${s.locationId}` : `organization ${s.organizationId}`}</dd>
      <dt>Last success</dt>
      <dd>{when(s.lastSuccessAt)}</dd>
      <dt>Failing since</dt>
      <dd>{when(s.failingSince)}</dd>
    </dl>
  );
}

function Actions(props: { s: Subscription; onChange: () => void; onTestSent: () => void }) {
  const { s } = props;
  const { route } = useLocation();
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function run<T>(
    call: Promise<{ data?: T; error?: unknown; response: Response }>,
    done: (d: T) => void,
  ) {
    setBusy(true);
    setError(null);
    setNote(null);
    const { data, error: err, response } = await call;
    setBusy(false);
    if (data === undefined && !response.ok) return setError(errorText(err, response));
    done(data as T);
  }
  const path = { params: { path: { id: s.id } } };
  const setStatus = (status: 'active' | 'paused') =>
    run(api.PATCH('/api/subscriptions/{id}', { ...path, body: { status } }), () => {
      setNote(status === 'paused' ? 'Paused: deliveries wait until it is resumed.' : 'Resumed.');
      props.onChange();
    });

  if (editing)
    return (
      <section aria-labelledby="edit-heading">
        <h2 id="edit-heading">Edit endpoint</h2>
        <EndpointForm
          initial={{ url: s.url, description: s.description ?? '', eventTypes: s.eventTypes }}
          submitLabel="Save"
          error={error}
          busy={busy}
          onSubmit={(f) =>
            void run(
              api.PATCH('/api/subscriptions/{id}', {
                ...path,
                body: {
                  url: f.url,
                  description: f.description === '' ? null : f.description,
                  eventTypes: f.eventTypes as never,
                },
              }),
              () => {
                setEditing(false);
                setNote('Saved.');
                props.onChange();
              },
            )
          }
        />
        <button type="button" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </section>
    );

  return (
    <section aria-label="Actions" class="actions">
      <button type="button" onClick={() => setEditing(true)}>
        Edit
      </button>
      {s.status === 'active' ? (
        <button type="button" disabled={busy} onClick={() => void setStatus('paused')}>
          Pause
        </button>
      ) : (
        <button type="button" disabled={busy} onClick={() => void setStatus('active')}>
          {s.status === 'paused' ? 'Resume' : 'Enable'}
        </button>
      )}
      {s.status !== 'disabled' &&
        s.appId !== null &&
        session.value?.me.kind === 'api_key' &&
        session.value.me.role === 'staff' && (
          <Confirm
            label="Disable"
            question="Disable this partner endpoint? Nothing is sent to it until it is enabled again."
            onConfirm={() =>
              void run(
                api.PATCH('/api/subscriptions/{id}', { ...path, body: { status: 'disabled' } }),
                () => {
                  setNote('Disabled.');
                  props.onChange();
                },
              )
            }
          />
        )}
      <button
        type="button"
        disabled={busy}
        onClick={() =>
          void run(api.POST('/api/subscriptions/{id}/test', { ...path, body: {} }), () => {
            setNote('Test event sent: its delivery shows in the log below.');
            props.onTestSent();
          })
        }
      >
        Send test event
      </button>
      <Confirm
        label="Rotate secret"
        question="Rotate the signing secret? The old one keeps working for the overlap period."
        onConfirm={() =>
          void run(api.POST('/api/subscriptions/{id}/rotate-secret', { ...path, body: {} }), (d) => {
            setSecret(d.secret);
            props.onChange();
          })
        }
      />
      <Confirm
        label="Delete"
        question="Delete this endpoint? Nothing more is sent to it."
        onConfirm={() =>
          void run(api.DELETE('/api/subscriptions/{id}', path), () => route(`${BASE}/endpoints`))
        }
      />
      {note !== null && <Note>{note}</Note>}
      {error !== null && <Alert>{error}</Alert>}
      {secret !== null && <SecretOnce label="New signing secret" secret={secret} />}
    </section>
  );
}
