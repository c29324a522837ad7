import { useState } from 'preact/hooks';
import { api, errorText } from './api';
import { useResource } from './resource';
import { session } from './session';
import { Alert, when } from './ui';

/**
 * "Share portal link": mints a one-time link (`POST /api/portal-links`) for a partner to open. A
 * partner key's is for its own app; a staff key names one of the apps it deals with, the operator an
 * app and the scope the link opens. The session it opens is never wider than the key that made it.
 */
export function ShareLink() {
  const me = session.value?.me;
  const [appId, setAppId] = useState('');
  const [scope, setScope] = useState('');
  const [made, setMade] = useState<{ url: string; expiresAt: string } | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const partner = me?.kind === 'api_key' && me.role === 'partner';
  const operator = me?.kind === 'operator';
  const apps = useResource(
    () =>
      partner
        ? Promise.resolve({ data: undefined, error: undefined, response: new Response() })
        : api.GET('/api/apps'),
    [partner],
  );
  const locations = useResource(
    () =>
      operator
        ? api.GET('/api/locations')
        : Promise.resolve({ data: undefined, error: undefined, response: new Response() }),
    [operator],
  );
  if (!me?.can.mintPortalLinks) return null;
  const appList = apps.data?.data ?? [];
  if (!partner && appList.length === 0) return null;
  const chosenApp = appId || appList[0]?.id || '';
  const locs = locations.data?.data ?? [];
  const orgs = [...new Set(locs.map((l) => l.organizationId).filter((o) => o > 0))];
  const scopeOptions = [
    ...orgs.map((o) => ({ value: `org:${o}`, label: `Organization ${o} (every location)` })),
    ...locs.map((l) => ({ value: `loc:${l.id}`, label: `Location: ${l.name}` })),
  ];
  const chosenScope = scope || scopeOptions[0]?.value || '';

  const mint = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setCopied(null);
    const [kind, id] = chosenScope.split(':');
    const body = partner
      ? {}
      : {
          appId: chosenApp,
          ...(operator ? (kind === 'org' ? { organizationId: Number(id) } : { locationId: Number(id) }) : {}),
        };
    const { data, error: err, response } = await api.POST('/api/portal-links', { body });
    if (data === undefined) return setError(errorText(err, response));
    setMade(data);
  };
  const copy = () => {
    if (made === null) return;
    navigator.clipboard.writeText(made.url).then(
      () => setCopied('Copied.'),
      () => setCopied('Could not copy: select the link and copy it.'),
    );
  };
  return (
    <section class="share" aria-labelledby="share-heading">
      <h2 id="share-heading">Share the portal</h2>
      <form class="inline" onSubmit={(e) => void mint(e)}>
        {!partner && (
          <>
            <label for="share-app">Partner app</label>{' '}
            <select id="share-app" value={chosenApp} onChange={(e) => setAppId(e.currentTarget.value)}>
              {appList.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>{' '}
          </>
        )}
        {operator && (
          <>
            <label for="share-scope">Where</label>{' '}
            <select id="share-scope" value={chosenScope} onChange={(e) => setScope(e.currentTarget.value)}>
              {scopeOptions.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>{' '}
          </>
        )}
        <button type="submit">Share portal link</button>
      </form>
      <p class="help">
        {partner
          ? 'A one-time link to this portal, as your key sees it, for a colleague to open.'
          : "A one-time link to the partner app's portal: it sees that app's endpoints only, and never more than you may."}
      </p>
      {error !== null && <Alert>{error}</Alert>}
      {made !== null && (
        <div class="secret">
          <p>Open once, until {when(made.expiresAt)}. It is shown this once: send it now.</p>
          <code data-testid="portal-link">{made.url}</code>{' '}
          <button type="button" onClick={copy}>
            Copy link
          </button>
          {copied !== null && <span role="status"> {copied}</span>}
        </div>
      )}
    </section>
  );
}
