import type { ComponentChildren } from 'preact';
import { activityQueryKey, useActivity } from './use-activity';
import { getJson } from '../api';
import { activeSessions, failedCalls, pointSeries, sessionActiveIn, type Activity } from '../activity';
import { Sparkline, TimeChart } from '../components/chart';
import { Empty, Link, QueryResult, Panel, StatCard } from '../components/ui';
import { apiParams, costFilter, resolveWindow, type Filters } from '../filters';
import { delta, fmtInt, fmtMs, fmtUsd, fmtDateTime, fmtPct } from '../format';
import { hrefTo } from '../place';
import { useQuery } from '../query';
import type { CostReport, LatencyGroup, RiskSummary } from '../types';

/** Today at a glance: the sessions API gives the counts and latencies; cost and risk endpoints add where present. */
export function OverviewView(props: { filters: Filters; footer?: ComponentChildren }) {
  const { filters } = props;
  const activity = useActivity(filters);
  const cost = useQuery(`overview-cost ${activityQueryKey(filters)}`, async () => {
    const window = resolveWindow(filters, new Date());
    const narrowed = costFilter(filters);
    if ('conflict' in narrowed) return { kind: 'error' as const, message: narrowed.conflict };
    const current = await getJson('cost', { from: window.from.toISOString(), to: window.to.toISOString(), ...narrowed.params, groupBy: 'day' });
    if (current.kind !== 'ok') return current;
    const previous = await getJson('cost', { from: window.prevFrom.toISOString(), to: window.prevTo.toISOString(), ...narrowed.params, groupBy: 'day' });
    return { kind: 'ok' as const, data: { current: current.data, previous: previous.kind === 'ok' ? previous.data : null } };
  });
  const narrowedCost = costFilter(filters);
  const costConflict = 'conflict' in narrowedCost ? narrowedCost.conflict : null;
  const risk = useQuery(`overview-risk ${activityQueryKey(filters)}`, () =>
    getJson('risk/summary', apiParams(filters, resolveWindow(filters, new Date()))),
  );

  return (
    <div class="view" data-view="overview">
      <h1>Overview</h1>
      <QueryResult query={activity} what="today's activity" absent={<Empty title="The sessions API is missing on this server." />}>
        {(data) => (
          <>
            <OverviewBody
              activity={data}
              toolFilter={filters.tool}
              cost={cost.state.kind === 'ok' ? cost.state.data : null}
              costConflict={costConflict}
              risk={risk.state.kind === 'ok' ? risk.state.data : null}
              riskAbsent={risk.state.kind === 'absent'}
            />
            {/* After the body, once it is there: a panel that appeared above it first would push it down (layout shift). */}
            {props.footer}
          </>
        )}
      </QueryResult>
    </div>
  );
}

function OverviewBody(props: {
  activity: Activity;
  toolFilter: string | null;
  cost: { current: CostReport; previous: CostReport | null } | null;
  /** Why spend cannot be shown for these filters (spend is kept per one dimension), or null. */
  costConflict: string | null;
  risk: RiskSummary | null;
  riskAbsent: boolean;
}) {
  const { activity, cost, risk } = props;
  const { window, latency } = activity;
  const sessionsNow = activity.sessions.filter((s) => sessionActiveIn(s, window.from, window.to));
  const sessionsBefore = activity.sessions.filter((s) => sessionActiveIn(s, window.prevFrom, window.prevTo));
  const points = latency?.points ?? [];
  const bucketMs = latency?.bucket === 'day' ? 86_400_000 : 3_600_000;
  const interactionsSeries = pointSeries(points, (p) => p.count);
  const errorSeries = pointSeries(points, failedCalls);
  const p95Series = pointSeries(points, (p) => p.p95);
  const sessionsSeries = { x: interactionsSeries.x, y: activeSessions(sessionsNow, interactionsSeries.x, bucketMs) };
  const now = latency?.current ?? null;
  const before = latency?.previous ?? null;

  const spend = cost ? cost.current.total.costUsd : null;
  const spendBefore = cost ? (cost.previous?.total.costUsd ?? null) : null;
  const costSeries = cost ? { x: cost.current.groups.map((g) => Date.parse(g.key) / 1000), y: cost.current.groups.map((g) => g.costUsd) } : null;

  const servers = topRows(latency?.servers ?? [], (g) => g.key);
  const tools = topRows(latency?.tools ?? [], (g) => g.tool ?? g.key);
  const recent = sessionsNow.slice(0, 8);
  // Only the newest sessions are listed: past them, a count is a floor (and, for the window before, no change is told).
  const sessionCount = `${fmtInt(sessionsNow.length)}${activity.sessionsCapped ? '+' : ''}`;
  // Calls and spend are read by the hour: a range that starts within an hour counts that whole hour (sessions do not).
  const hourStart = Math.floor(window.from.getTime() / 3_600_000) * 3_600_000;
  const byTheHour = latency?.bucket !== 'day' && hourStart !== window.from.getTime() ? new Date(hourStart).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : null;
  const noLatency = <span class="muted">latency endpoints not on this server</span>;

  return (
    <>
      <p class="lede">
        {window.label}
        {byTheHour ? ` (calls and spend from ${byTheHour}, as they are kept by the hour)` : ''}: {now ? `${fmtInt(now.count)} interactions in ` : ''}
        {sessionCount} sessions
        {/* Sessions do not say which tools they called, so the tool filter narrows the calls only. */}
        {props.toolFilter ? ` (sessions not narrowed to ${props.toolFilter})` : ''}.
      </p>
      <div class="stats">
        <StatCard label="Sessions" testId="stat-sessions" value={sessionCount} delta={activity.sessionsBeforeCapped ? null : delta(sessionsNow.length, sessionsBefore.length)} upIsGood compareLabel={window.compareLabel}>
          <Sparkline x={sessionsSeries.x} values={sessionsSeries.y} label="Active sessions over the range" />
        </StatCard>
        <StatCard label="Interactions" testId="stat-interactions" value={now ? fmtInt(now.count) : '—'} delta={now && before ? delta(now.count, before.count) : null} upIsGood compareLabel={window.compareLabel}
          caption={now ? `${fmtInt(failedCalls(now))} failed` : noLatency}>
          <Sparkline x={interactionsSeries.x} values={interactionsSeries.y} label="Interactions over the range" />
        </StatCard>
        <StatCard label="Spend" testId="stat-spend" value={fmtUsd(spend)} delta={delta(spend, spendBefore)} compareLabel={window.compareLabel} caption={props.costConflict ?? (cost ? (byTheHour ? `from ${byTheHour}, by the hour` : 'from the cost API') : 'no cost data yet')}>
          {costSeries ? <Sparkline x={costSeries.x} values={costSeries.y} color="--c3" label="Spend over the range" /> : null}
        </StatCard>
        <StatCard
          label="Open findings"
          testId="stat-findings"
          value={risk ? `${fmtInt(risk.open)}${risk.complete === false ? '+' : ''}` : '—'}
          compareLabel={window.compareLabel}
          caption={risk ? `${fmtInt(risk.bySeverity.critical + risk.bySeverity.high)} high or critical` : props.riskAbsent ? 'risk monitor not running' : 'no risk data yet'}
        />
        <StatCard label="p95 latency" testId="stat-p95" value={fmtMs(now?.p95 ?? null)} delta={now && before ? delta(now.p95, before.p95) : null} compareLabel={window.compareLabel}
          caption={now ? `error rate ${fmtPct(now.count ? now.errorRate : null)}` : noLatency}>
          <Sparkline x={p95Series.x} values={p95Series.y} color="--c2" label="p95 latency over the range" />
        </StatCard>
      </div>

      <div class="grid-2">
        <Panel title="Interactions over time" id="ov-chart">
          {!now || now.count === 0 ? (
            <Empty title="No interactions in this range.">Wrap an MCP server with km and use it; its calls appear here within seconds.</Empty>
          ) : (
            <TimeChart
              caption={`Interactions and failures per ${latency?.bucket ?? 'hour'}`}
              x={interactionsSeries.x}
              series={[
                { label: 'interactions', color: '--c1', values: interactionsSeries.y, bars: true },
                { label: 'failed', color: '--bad', values: errorSeries.y, bars: true },
              ]}
              unit={(v) => fmtInt(v)}
              step={bucketMs / 1000}
              integers
            />
          )}
        </Panel>
        <Panel title="Busiest servers and tools" id="ov-top">
          {servers.length === 0 ? (
            <Empty title="Nothing used in this range yet." />
          ) : (
            <div class="toplists">
              <TopList title="Servers" rows={servers} />
              <TopList title="Tools" rows={tools} />
            </div>
          )}
        </Panel>
      </div>

      <Panel title="Latest sessions" id="ov-recent" actions={<Link href={hrefTo('/journey')}>All sessions →</Link>}>
        {recent.length === 0 ? (
          <Empty title="No sessions in this range." />
        ) : (
          <ul class="recent">
            {recent.map((s) => (
              <li key={s.id}>
                <Link href={hrefTo(`/journey/${encodeURIComponent(s.id)}`)}>
                  <strong>{s.server.name}</strong> <span class="muted">via {s.client?.name ?? 'unknown client'}</span>
                </Link>
                <span class="muted">
                  {fmtDateTime(s.firstSeenAt)} · {fmtInt(s.interactionCount)} calls{s.errorCount ? ` · ${s.errorCount} failed` : ''}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Panel>
    </>
  );
}

/** The six busiest groups by calls. */
function topRows(groups: readonly LatencyGroup[], label: (group: LatencyGroup) => string): { key: string; count: number }[] {
  return [...groups].sort((a, b) => b.count - a.count).slice(0, 6).map((group) => ({ key: label(group), count: group.count }));
}



function TopList(props: { title: string; rows: { key: string; count: number }[] }) {
  const max = Math.max(1, ...props.rows.map((r) => r.count));
  return (
    <div>
      <h3>{props.title}</h3>
      {props.rows.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <ol class="bars">
          {props.rows.map((row) => (
            <li key={row.key}>
              <span class="bar-label" title={row.key}>
                {row.key}
              </span>
              <span class="bar-track" aria-hidden="true">
                <span style={{ width: `${(row.count / max) * 100}%` }} />
              </span>
              <span class="bar-value">{fmtInt(row.count)}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
