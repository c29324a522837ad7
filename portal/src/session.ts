import { signal } from '@preact/signals';
import type { Me } from './api';

/**
 * Who is signed in, for this browser tab only: the key lives in sessionStorage, which the browser
 * drops when the tab closes and never shares with other tabs or sends anywhere by itself.
 */
export interface Session {
  key: string;
  me: Me;
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
  sessionStorage.removeItem(STORE);
  signedOutReason.value = reason;
  session.value = null;
}

export type Role = 'operator' | 'staff' | 'partner';
export const roleOf = (me: Me): Role => (me.kind === 'operator' ? 'operator' : me.role);
