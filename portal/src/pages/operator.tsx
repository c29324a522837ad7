import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { PlatformHealth } from '../platform-health';
import { ShareLink } from '../share-link';
import { useResource } from '../resource';
import { Alert, Badge, Confirm, Loaded, SecretOnce, when } from '../ui';

/** The operator's page: the platform's health, organizations and locations, partner apps, API keys. */
export function Operator() {
  // a new app is offered for sharing at once
  const [apps, setApps] = useState(0);
  return (
    <>
      <h1>Platform</h1>
      <PlatformHealth />
      <Tenants />
      <Apps onChange={() => setApps((n) => n + 1)} />
      <ShareLink key={apps} />
      <Keys />
    </>
  );
}

function useAction() {
  const [error, setError] = useState<string | null>(null);
  async function run<T>(
    call: Promise<{ data?: T; error?: unknown; response: Response }>,
    done: (d: T) => void,
  ) {
    setError(null);
    const { data, error: err, response } = await call;
    if (data === undefined) return setError(errorText(err, response));
    done(data);
  }
  return { error, run };
}

function Tenants() {
  const organizations = useResource(() => api.GET('/api/organizations'), []);
  const locations = useResource(() => api.GET('/api/locations'), []);
  const [org, setOrg] = useState('');
  const [loc, setLoc] = useState('');
  const [locOrg, setLocOrg] = useState('');
  const { error, run } = useAction();
  const reload = () => {
    organizations.reload();
    locations.reload();
  };
  return (
    <section aria-labelledby="tenants-heading">
      <h2 id="tenants-heading">Organizations and locations</h2>
      <Loaded data={organizations.data} error={organizations.error}>
        {(o) => (
          <Loaded data={locations.data} error={locations.error}>
            {(l) => {
              // each organization with its locations, then the locations of none (organizationId 0)
              const groups = [
                ...o.data.map((x) => ({
                  key: `org-${x.id}`,
                  title: `${x.name} (organization ${x.id})`,
                  id: x.id,
                })),
                { key: 'org-none', title: 'Locations without an organization', id: 0 },
              ];
              return (
                <div class="scroll">
                  <table data-testid="tenants">
                    <caption class="visually-hidden">Organizations and their locations</caption>
                    <thead>
                      <tr>
                        <th scope="col">Organization</th>
                        <th scope="col">Locations</th>
                      </tr>
                    </thead>
                    <tbody>
                      {groups.map((g) => {
                        const here = l.data.filter((x) => x.organizationId === g.id);
                        if (g.id === 0 && here.length === 0) return null;
                        return (
                          <tr key={g.key}>
                            <th scope="row">{g.title}</th>
                            <td>
                              {here.length === 0
                                ? '—'
                                : here.map((x, i) => (
                                    <span key={x.id}>
                                      {i > 0 && ', '}
                                      {x.name} <span class="muted">(location {x.id})</span>
                                    </span>
                                  ))}
                            </td>
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </div>
              );
            }}
          </Loaded>
        )}
      </Loaded>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void run(api.POST('/api/organizations', { body: { name: org } }), () => {
            setOrg('');
            reload();
          });
        }}
      >
        <label for="org-name">New organization</label>{' '}
        <input id="org-name" required value={org} onInput={(e) => setOrg(e.currentTarget.value)} />{' '}
        <button type="submit">Create organization</button>
      </form>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          const body = { name: loc, ...(locOrg !== '' ? { organizationId: Number(locOrg) } : {}) };
          void run(api.POST('/api/locations', { body }), () => {
            setLoc('');
            reload();
          });
        }}
      >
        <label for="loc-name">New location</label>{' '}
        <input id="loc-name" required value={loc} onInput={(e) => setLoc(e.currentTarget.value)} />{' '}
        <label for="loc-org">in organization (id, optional)</label>{' '}
        <input
          id="loc-org"
          inputMode="numeric"
          size={6}
          value={locOrg}
          onInput={(e) => setLocOrg(e.currentTarget.value)}
        />{' '}
        <button type="submit">Create location</button>
      </form>
      {error !== null && <Alert>{error}</Alert>}
    </section>
  );
}

function Apps({ onChange }: { onChange: () => void }) {
  const apps = useResource(() => api.GET('/api/apps'), []);
  const [name, setName] = useState('');
  const { error, run } = useAction();
  return (
    <section aria-labelledby="apps-heading">
      <h2 id="apps-heading">Partner apps</h2>
      <Loaded data={apps.data} error={apps.error}>
        {(a) => (
          <ul>
            {a.data.map((x) => (
              <li key={x.id}>
                <strong>{x.name}</strong> <code>{x.id}</code>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void run(api.POST('/api/apps', { body: { name } }), () => {
            setName('');
            apps.reload();
            onChange();
          });
        }}
      >
        <label for="app-name">New app</label>{' '}
        <input id="app-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />{' '}
        <button type="submit">Create app</button>
      </form>
      {error !== null && <Alert>{error}</Alert>}
    </section>
  );
}

function Keys() {
  const keys = useResource(() => api.GET('/api/api-keys'), []);
  const [role, setRole] = useState<'staff' | 'partner'>('partner');
  const [scope, setScope] = useState('');
  const [appId, setAppId] = useState('');
  const [made, setMade] = useState<string | null>(null);
  const { error, run } = useAction();
  const create = (e: Event) => {
    e.preventDefault();
    const [kind, id] = scope.split(':');
    const body = {
      role,
      ...(kind === 'org' ? { organizationId: Number(id) } : { locationId: Number(id) }),
      ...(appId.trim() !== '' ? { appId: appId.trim() } : {}),
    };
    void run(api.POST('/api/api-keys', { body }), (k) => {
      setMade(k.key);
      keys.reload();
    });
  };
  return (
    <section aria-labelledby="keys-heading">
      <h2 id="keys-heading">API keys</h2>
      <Loaded data={keys.data} error={keys.error}>
        {(k) => (
          <div class="scroll">
            <table>
              <caption class="visually-hidden">API keys</caption>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Role</th>
                  <th scope="col">Scope</th>
                  <th scope="col">App</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {k.data.map((x) => (
                  <tr key={x.id}>
                    <td>
                      <code>{x.prefix}…</code>
                    </td>
                    <td>{x.role}</td>
                    <td>
                      {x.locationId !== null
                        ? `location ${x.locationId}`
                        : `organization ${x.organizationId}`}
                    </td>
                    <td>{x.appId ?? '—'}</td>
                    <td>
                      {x.revokedAt !== null ? (
                        <span>revoked {when(x.revokedAt)}</span>
                      ) : (
                        <>
                          <Badge value="active" />{' '}
                          <Confirm
                            label="Revoke"
                            question={`Revoke key ${x.prefix}…?`}
                            onConfirm={() =>
                              void run(
                                api.DELETE('/api/api-keys/{id}', { params: { path: { id: x.id } } }),
                                () => keys.reload(),
                              )
                            }
                          />
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      <form class="inline" onSubmit={create}>
        <label for="key-role">Role</label>{' '}
        <select
          id="key-role"
          value={role}
          onChange={(e) => setRole(e.currentTarget.value as 'staff' | 'partner')}
        >
          <option value="partner">partner</option>
          <option value="staff">staff</option>
        </select>{' '}
        <label for="key-scope">Scope (org:ID or loc:ID)</label>{' '}
        <input
          id="key-scope"
          required
          pattern="(org|loc):[0-9]+"
          value={scope}
          onInput={(e) => setScope(e.currentTarget.value)}
        />{' '}
        <label for="key-app">App id (partner keys)</label>{' '}
        <input id="key-app" value={appId} onInput={(e) => setAppId(e.currentTarget.value)} />{' '}
        <button type="submit">Create key</button>
      </form>
      {error !== null && <Alert>{error}</Alert>}
      {made !== null && <SecretOnce label="New API key" secret={made} />}
    </section>
  );
}
