import { useEffect, useState } from 'preact/hooks';

/**
 * Where the user is, all of it in the URL: the view in the path, the time range and filters in the query, so a
 * link or a reload shows the same thing and every view shares one set of filters.
 */
export type ViewName = 'overview' | 'journey' | 'cost' | 'risk' | 'performance' | 'first-run';
export const VIEWS: { name: ViewName; path: string; title: string }[] = [
  { name: 'overview', path: '/', title: 'Overview' },
  { name: 'journey', path: '/journey', title: 'Journey' },
  { name: 'cost', path: '/cost', title: 'Cost Center' },
  { name: 'risk', path: '/risk', title: 'Risk Monitor' },
  { name: 'performance', path: '/performance', title: 'Performance Hub' },
];

/** The guided first run: not a tab; the app opens on it while the org has no event yet, and links name it. */
export const FIRST_RUN = { name: 'first-run' as const, path: '/first-run', title: 'Set up' };

export interface Place {
  view: ViewName;
  /** /journey/<sessionId> */
  sessionId: string | null;
  query: URLSearchParams;
}

/** Carried along on every link between views. */
const SHARED_PARAMS = ['range', 'from', 'to', 'project', 'user', 'team', 'server', 'tool', 'refresh'];

/**
 * The demo (dashboard/demo) keeps the view's path in `?view=` on its own page instead, so that any static file
 * server can serve it, a reload included: there is no SPA fallback to answer /demo/cost.
 */
export const VIEW_IN_QUERY = document.querySelector<HTMLMetaElement>('meta[name="km-place"]')?.content === 'query';

/** The view's path (`/journey/<id>`): the URL's path, or the demo's `?view=`. */
function viewPath(): string {
  return VIEW_IN_QUERY ? (new URLSearchParams(window.location.search).get('view') ?? '/') : window.location.pathname;
}

/** The href of a view's path with this query: the path itself, or the demo's page with `?view=` first. */
function placeHref(path: string, query: URLSearchParams): string {
  if (VIEW_IN_QUERY) {
    query.delete('view');
    const text = query.toString();
    const view = path === '/' ? '' : `view=${encodeURIComponent(path).replace(/%2F/g, '/')}`;
    const search = [view, text].filter(Boolean).join('&');
    return search ? `${window.location.pathname}?${search}` : window.location.pathname;
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export function parsePlace(): Place {
  const parts = viewPath().split('/').filter(Boolean);
  // `?view=first-run` names it on the app's own pages too (a link from the landing page or a sign-in redirect).
  if (parts[0] === 'first-run' || new URLSearchParams(window.location.search).get('view') === 'first-run') return { view: 'first-run', sessionId: null, query: new URLSearchParams(window.location.search) };
  const view = VIEWS.find((candidate) => candidate.path === `/${parts[0] ?? ''}`)?.name ?? 'overview';
  const sessionId = view === 'journey' && parts[1] ? decodeURIComponent(parts[1]) : null;
  return { view, sessionId, query: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((listener) => listener()));

export function navigate(href: string, replace = false): void {
  if (href === window.location.pathname + window.location.search) return;
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  listeners.forEach((listener) => listener());
}

export function usePlace(): Place {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return parsePlace();
}

/** A link to another path that keeps the shared range and filters; changes set (or, with null, drop) params. */
export function hrefTo(path: string, changes: Record<string, string | null> = {}): string {
  const current = new URLSearchParams(window.location.search);
  const next = new URLSearchParams();
  for (const name of SHARED_PARAMS) {
    const value = current.get(name);
    if (value !== null) next.set(name, value);
  }
  for (const [name, value] of Object.entries(changes)) {
    if (value === null || value === '') next.delete(name);
    else next.set(name, value);
  }
  return placeHref(path, next);
}

/** Changes params on the current page, keeping the others (view-specific ones too). */
export function setParams(changes: Record<string, string | null>): void {
  const next = new URLSearchParams(window.location.search);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null || value === '') next.delete(name);
    else next.set(name, value);
  }
  navigate(placeHref(viewPath(), next));
}

/** Client-side navigation for ordinary links: keeps middle-click and modifier keys working as the browser's. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!anchor?.href || anchor.origin !== window.location.origin) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
  window.scrollTo(0, 0);
}
