import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { signedOutReason, signIn } from '../session';
import { Alert, Note } from '../ui';

/** Paste an API key (partner, staff or the operator's); it is checked by asking who it is. */
export function SignIn() {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const trimmed = key.trim();
    if (trimmed === '') return setError('Paste an API key first.');
    setBusy(true);
    const {
      data,
      error: err,
      response,
    } = await api.GET('/api/me', {
      headers: { authorization: `Bearer ${trimmed}` },
    });
    setBusy(false);
    if (data === undefined) return setError(errorText(err, response));
    signIn({ key: trimmed, me: data });
  };
  return (
    <main id="main" class="sign-in">
      <h1>Sign in to the fpt-events portal</h1>
      {signedOutReason.value !== null && <Note>{signedOutReason.value}</Note>}
      <form onSubmit={(e) => void submit(e)}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          aria-describedby="api-key-help"
        />
        <p id="api-key-help" class="help">
          A partner, staff or operator key. It is kept for this browser tab only, and forgotten when you sign
          out or close the tab.
        </p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {error !== null && <Alert>{error}</Alert>}
    </main>
  );
}
