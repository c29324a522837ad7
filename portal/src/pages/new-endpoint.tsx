import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { EndpointForm, type EndpointFields } from '../endpoint-form';
import { BASE } from '../paths';
import { useResource } from '../resource';
import { session } from '../session';
import { SecretOnce } from '../ui';

/** A scope as the select holds it: `loc:3` or `org:1`. */
type ScopeValue = string;

export function NewEndpoint() {
  const me = session.value?.me;
  const locations = useResource(() => api.GET('/api/locations'), []);
  const [scope, setScope] = useState<ScopeValue>('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ id: string; secret: string } | null>(null);

  const orgs = new Set<number>();
  if (me?.kind === 'api_key' && me.organizationId !== null && me.locationId === null)
    orgs.add(me.organizationId);
  if (me?.kind === 'operator')
    for (const l of locations.data?.data ?? []) if (l.organizationId !== null) orgs.add(l.organizationId);
  const options: { value: ScopeValue; label: string }[] = [
    ...[...orgs].map((o) => ({ value: `org:${o}`, label: `Organization ${o} (every location)` })),
    ...(locations.data?.data ?? []).map((l) => ({ value: `loc:${l.id}`, label: `Location: ${l.name}` })),
  ];
  const chosen = scope || options[0]?.value || '';

  const create = async (f: EndpointFields) => {
    setBusy(true);
    setError(null);
    const [kind, id] = chosen.split(':');
    const {
      data,
      error: err,
      response,
    } = await api.POST('/api/subscriptions', {
      body: {
        url: f.url,
        ...(f.description !== '' ? { description: f.description } : {}),
        ...(f.eventTypes !== null ? { eventTypes: f.eventTypes as never } : {}),
        ...(kind === 'org'
          ? { organizationId: Number(id) }
          : kind === 'loc'
            ? { locationId: Number(id) }
            : {}),
      },
    });
    setBusy(false);
    if (data === undefined) return setError(errorText(err, response));
    setCreated({ id: data.id, secret: data.secret });
  };

  if (created !== null)
    return (
      <>
        <h1>Endpoint created</h1>
        <SecretOnce label="Signing secret" secret={created.secret} />
        <p>
          <a href={`${BASE}/endpoints/${created.id}`}>Open the endpoint</a>
        </p>
      </>
    );
  return (
    <>
      <h1>New endpoint</h1>
      <EndpointForm
        initial={{ url: '', description: '', eventTypes: null }}
        submitLabel="Create endpoint"
        error={error}
        busy={busy}
        onSubmit={(f) => void create(f)}
        extra={
          <>
            <label for="endpoint-scope">Scope</label>
            <select id="endpoint-scope" value={chosen} onChange={(e) => setScope(e.currentTarget.value)}>
              {options.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          </>
        }
      />
    </>
  );
}
