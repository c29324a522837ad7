import { useEffect, useState } from 'preact/hooks';
import { errorText } from './api';

export interface Resource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * One API read, made when the page shows and again when `deps` change or `reload()` is called;
 * `pollMs` reads it again on that period while the page stays (a delivery arriving shows without a
 * click). The previous answer stays on screen while the next one loads.
 */
export function useResource<T>(
  load: () => Promise<Answer<T>>,
  deps: unknown[],
  pollMs?: number,
): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (r) => {
        if (!live) return;
        if (r.data === undefined) setState({ loading: false, error: errorText(r.error, r.response) });
        else setState({ loading: false, data: r.data });
      },
      (err: unknown) => {
        if (live) setState((s) => ({ ...s, loading: false, error: errorText(err) }));
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, round]);
  useEffect(() => {
    if (pollMs === undefined) return;
    const timer = setInterval(() => setRound((n) => n + 1), pollMs);
    return () => clearInterval(timer);
  }, [pollMs]);
  return { ...state, data: state.data, error: state.error, reload: () => setRound((n) => n + 1) };
}
