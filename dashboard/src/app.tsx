import { getJson } from './api';
import { AccountBadge, type Account } from './sign-in';
import { FilterBar } from './components/filter-bar';
import { RetentionNote } from './components/retention-note';
import { Link } from './components/ui';
import { filtersFrom, filtersKey } from './filters';
import { FIRST_RUN, hrefTo, navigate, usePlace, VIEW_IN_QUERY, VIEWS } from './place';
import { useEffect } from 'preact/hooks';
import { FirstRunView } from './views/first-run';
import { FunnelPanel } from './components/funnel-panel';
import { useQuery } from './query';
import { CostView } from './views/cost';
import { JourneyView } from './views/journey';
import { OverviewView } from './views/overview';
import { PerformanceView } from './views/performance';
import { RiskView } from './views/risk';
import { SessionView } from './views/session';

export function App({ account = null }: { account?: Account | null }) {
  const place = usePlace();
  const filters = filtersFrom(place.query);
  // The filter choices come from the sessions this server knows, whatever the current filters.
  const known = useQuery('filter-options', () => getJson('sessions', { limit: 500 }));
  const sessions = known.state.kind === 'ok' ? known.state.data.sessions : [];
  // A team filters by its users; the org's teams name the choices (none listed, no team filter shown).
  const listed = useQuery('filter-teams', () => getJson('teams', {}));
  const teams = listed.state.kind === 'ok' ? listed.state.data.teams : [];
  const current = VIEWS.find((v) => v.name === place.view) ?? FIRST_RUN;
  document.title = `${place.sessionId ? 'Session' : current.title} · Kilometers`;
  useFirstRunWhileEmpty(place.view);
  // Owners and admins run the org (shared/src/tenancy.ts: they manage it); the funnel is theirs.
  // The demo (its views in the query) has no operator and no landing page of its own.
  const operator = !VIEW_IN_QUERY && account !== null && (account.role === 'owner' || account.role === 'admin');

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            km
          </span>
          <span>
            Kilometers <small>where your AI went</small>
          </span>
        </div>
        <nav aria-label="Views">
          {VIEWS.map((view) => (
            <Link key={view.name} href={hrefTo(view.path)} class="tab" aria-current={view.name === place.view ? 'page' : undefined}>
              {view.title}
            </Link>
          ))}
        </nav>
        <AccountBadge account={account} />
      </header>
      <FilterBar filters={filters} sessions={sessions} teams={teams} />
      <main id="main" tabIndex={-1}>
        {place.view === 'first-run' ? <FirstRunView account={account} /> : null}
        {place.view === 'overview' ? <OverviewView filters={filters} key={filtersKey(filters)} footer={operator ? <FunnelPanel /> : null} /> : null}
        {place.view === 'journey' && place.sessionId ? <SessionView sessionId={place.sessionId} /> : null}
        {place.view === 'journey' && !place.sessionId ? <JourneyView filters={filters} /> : null}
        {place.view === 'cost' ? <CostView filters={filters} /> : null}
        {place.view === 'risk' ? <RiskView filters={filters} /> : null}
        {place.view === 'performance' ? <PerformanceView filters={filters} /> : null}
      </main>
      <RetentionNote />
    </>
  );
}

/**
 * The app opened on its start page, and the org has no event yet: the guided first run instead (once, at load; the
 * Overview stays a click away). Asked only on the start page, so a link to any view opens that view.
 */
function useFirstRunWhileEmpty(view: string): void {
  useEffect(() => {
    if (view !== 'overview' || window.location.pathname !== '/' || window.location.search !== '') return;
    let cancelled = false;
    void getJson('first-run', {}).then((answer) => {
      if (!cancelled && answer.kind === 'ok' && answer.data.firstEvent === null && window.location.pathname === '/') navigate(FIRST_RUN.path, true);
    });
    return () => void (cancelled = true);
  }, []);
}
