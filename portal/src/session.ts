import { signal } from '@preact/signals';
import type { Me } from './api';

/**
 * Who is signed in, for this browser tab only: the key lives in sessionStorage, which the browser
 * drops when the tab closes and never shares with other tabs or sends anywhere by itself.
 */
export interface Session {
  /** an API key, or a portal session's token (`fpt_session_…`) */
  key: string;
  me: Me;
  /** when a portal session ends (a pasted key has no end) */
  expiresAt?: string;
}

const STORE = 'fpt-portal-session';

function restore(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORE);
    return raw === null ? null : (JSON.parse(raw) as Session);
  } catch {
    return null;
  }
}

export const session = signal<Session | null>(restore());
/** why the last session ended, shown on the sign-in page */
export const signedOutReason = signal<string | null>(null);

export function signIn(next: Session): void {
  sessionStorage.setItem(STORE, JSON.stringify(next));
  signedOutReason.value = null;
  session.value = next;
}

export function signOut(reason: string | null = null): void {
  const ending = session.value;
  // a portal session is ended on the server too (best effort: it expires anyway)
  if (ending?.me.session && reason !== EXPIRED)
    void fetch('/api/portal-sessions/current', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ending.key}` },
    }).catch(() => undefined);
  sessionStorage.removeItem(STORE);
  signedOutReason.value = reason;
  session.value = null;
}

export const EXPIRED = 'Your portal session has expired. Open a new portal link, or sign in with a key.';
