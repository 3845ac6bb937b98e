import { useEffect, useRef, useState } from 'preact/hooks';
import type { Loaded } from './api';

export type QueryState<T> = { kind: 'loading' } | Loaded<T>;

export interface Query<T> {
  state: QueryState<T>;
  /** The last answer could not be refreshed: what is shown is older than the polling interval. */
  stale: boolean;
  refresh(): void;
}

const DEFAULT_REFRESH_SECONDS = 15;

/** ?refresh=<seconds> sets the live-refresh interval; 0 turns polling off. */
export function refreshMs(): number {
  const raw = new URLSearchParams(window.location.search).get('refresh');
  const seconds = raw === null ? DEFAULT_REFRESH_SECONDS : Number(raw);
  return Number.isFinite(seconds) && seconds > 0 ? Math.max(seconds, 1) * 1000 : 0;
}

type UpdateListener = (at: Date) => void;
const updateListeners = new Set<UpdateListener>();
export function onQueryUpdated(listener: UpdateListener): () => void {
  updateListeners.add(listener);
  return () => void updateListeners.delete(listener);
}

/**
 * Loads when the key changes, then polls while the page is visible. A failed poll keeps the last good answer
 * (marked stale) rather than blanking the view. Requests in flight are left to finish and ignored: aborting
 * them would only show up as failed requests.
 */
export function useQuery<T>(key: string, load: () => Promise<Loaded<T>>): Query<T> {
  const [state, setState] = useState<QueryState<T>>({ kind: 'loading' });
  const [stale, setStale] = useState(false);
  const loadRef = useRef(load);
  loadRef.current = load;
  const runRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    let cancelled = false;
    let running = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState({ kind: 'loading' });
    setStale(false);

    const schedule = () => {
      clearTimeout(timer);
      const ms = refreshMs();
      if (!cancelled && ms > 0) timer = setTimeout(() => (document.hidden ? schedule() : void run()), ms);
    };
    const run = async () => {
      if (running || cancelled) return;
      running = true;
      clearTimeout(timer);
      let result: Loaded<T>;
      try {
        result = await loadRef.current();
      } catch (error) {
        result = { kind: 'error', message: (error as Error).message };
      }
      running = false;
      if (cancelled) return;
      setState((previous) => {
        const keep = result.kind === 'error' && previous.kind === 'ok';
        setStale(keep);
        return keep ? previous : result;
      });
      updateListeners.forEach((listener) => listener(new Date()));
      schedule();
    };
    const onVisible = () => {
      if (!document.hidden) void run();
    };
    runRef.current = () => void run();
    document.addEventListener('visibilitychange', onVisible);
    void run();
    return () => {
      cancelled = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [key]);

  return { state, stale, refresh: () => runRef.current() };
}
