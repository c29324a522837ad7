import { useLocation } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { signIn } from '../session';
import { Alert } from '../ui';
import { BASE } from '../paths';

/** The token of a portal link (`/portal/#/link/<token>`), when the page was opened by one. */
export function linkToken(): string | null {
  const m = /^#\/link\/([^/?#]+)$/.exec(location.hash);
  return m?.[1] ?? null;
}

/**
 * Opens a portal link: its token is exchanged, once, for a short-lived session no wider than the
 * key that made the link. The token leaves the address bar at once, whatever the outcome.
 */
export function OpenLink({ token, onDone }: { token: string; onDone: () => void }) {
  const { route } = useLocation();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    history.replaceState(null, '', `${BASE}/sign-in`);
    void api.POST('/api/portal-sessions', { body: { token } }).then(({ data, error: err, response }) => {
      if (data === undefined) {
        setError(errorText(err, response));
        return;
      }
      signIn({ key: data.sessionToken, me: data.principal, expiresAt: data.expiresAt });
      onDone();
      route(`${BASE}/endpoints`, true);
    });
  }, [token]);
  if (error === null) return <p aria-busy="true">Opening the portal link…</p>;
  return (
    <main id="main" class="sign-in">
      <h1>This portal link cannot be opened</h1>
      <Alert>{error}</Alert>
      <p>Ask for a new link, or sign in with an API key.</p>
      <button type="button" onClick={onDone}>
        Sign in with a key
      </button>
    </main>
  );
}
