import { activityQueryKey, useActivity } from './use-activity';
import { getJson, withQuery } from '../api';
import { perBucket, percentile, periodNumbers, type Activity } from '../activity';
import { Sparkline, TimeChart } from '../components/chart';
import { Empty, Link, QueryResult, Panel, StatCard } from '../components/ui';
import { apiParams, resolveWindow, type Filters } from '../filters';
import { delta, fmtInt, fmtMs, fmtUsd, fmtDateTime, fmtPct } from '../format';
import { hrefTo } from '../place';
import { useQuery } from '../query';
import type { CostReport, RiskSummary } from '../types';

/** Today at a glance: the sessions API gives the counts and latencies; cost and risk endpoints add where present. */
export function OverviewView(props: { filters: Filters }) {
  const { filters } = props;
  const activity = useActivity(filters);
  const cost = useQuery(`overview-cost ${activityQueryKey(filters)}`, async () => {
    const window = resolveWindow(filters, new Date());
    const current = await getJson<CostReport>(withQuery('/api/cost', { ...apiParams(filters, window), groupBy: 'day' }));
    if (current.kind !== 'ok') return current;
    const previous = await getJson<CostReport>(
      withQuery('/api/cost', { ...apiParams(filters, window), from: window.prevFrom.toISOString(), to: window.prevTo.toISOString(), groupBy: 'day' }),
    );
    return { kind: 'ok' as const, data: { current: current.data, previous: previous.kind === 'ok' ? previous.data : null } };
  });
  const risk = useQuery(`overview-risk ${activityQueryKey(filters)}`, () =>
    getJson<RiskSummary>(withQuery('/api/risk/summary', apiParams(filters, resolveWindow(filters, new Date())))),
  );

  return (
    <div class="view" data-view="overview">
      <h1>Overview</h1>
      <QueryResult query={activity} what="today's activity" absent={<Empty title="The sessions API is missing on this server." />}>
        {(data) => <OverviewBody activity={data} cost={cost.state.kind === 'ok' ? cost.state.data : null} risk={risk.state.kind === 'ok' ? risk.state.data : null} riskAbsent={risk.state.kind === 'absent'} />}
      </QueryResult>
    </div>
  );
}

function OverviewBody(props: { activity: Activity; cost: { current: CostReport; previous: CostReport | null } | null; risk: RiskSummary | null; riskAbsent: boolean }) {
  const { activity, cost, risk } = props;
  const { window } = activity;
  const now = periodNumbers(activity, window.from, window.to);
  const before = periodNumbers(activity, window.prevFrom, window.prevTo);
  const current = activity.interactions.filter((i) => Date.parse(i.startedAt) >= window.from.getTime());
  const interactionsSeries = perBucket(window, current, (b) => b.length);
  const errorSeries = perBucket(window, current, (b) => b.filter((i) => i.outcome !== 'ok').length);
  const p95Series = perBucket(window, current, (b) => percentile(b.map((i) => i.latencyMs ?? 0), 95));
  const costSeries = perBucket(window, current, (b) => b.reduce((sum, i) => sum + (i.costUsd ?? 0), 0));
  const findingSeries = perBucket(window, current, (b) => b.reduce((sum, i) => sum + i.findings.length, 0));
  const sessionsSeries = perBucket(window, current, (b) => new Set(b.map((i) => i.sessionId)).size);

  const spend = cost ? cost.current.total.costUsd : now.costUsd;
  const spendBefore = cost ? (cost.previous?.total.costUsd ?? null) : before.costUsd;
  const spendCaption = cost ? 'from the cost API' : now.costUsd === null ? 'no cost data yet' : 'estimated per interaction';

  const servers = countBy(current, (i) => i.server.name);
  const tools = countBy(current.filter((i) => i.method === 'tools/call'), (i) => i.target ?? '?');
  const recent = activity.sessions.filter((s) => Date.parse(s.lastActivityAt) >= window.from.getTime()).slice(0, 8);

  return (
    <>
      <p class="lede">
        {window.label}: {fmtInt(now.interactions)} interactions in {fmtInt(now.sessions)} sessions
        {activity.truncatedTo ? ` (interaction numbers from the ${activity.truncatedTo} newest sessions)` : ''}.
      </p>
      <div class="stats">
        <StatCard label="Sessions" testId="stat-sessions" value={fmtInt(now.sessions)} delta={delta(now.sessions, before.sessions)} upIsGood compareLabel={window.compareLabel}>
          <Sparkline x={sessionsSeries.x} values={sessionsSeries.y} label="Active sessions over the range" />
        </StatCard>
        <StatCard label="Interactions" testId="stat-interactions" value={fmtInt(now.interactions)} delta={delta(now.interactions, before.interactions)} upIsGood compareLabel={window.compareLabel}
          caption={`${fmtInt(now.errors)} failed`}>
          <Sparkline x={interactionsSeries.x} values={interactionsSeries.y} label="Interactions over the range" />
        </StatCard>
        <StatCard label="Spend" testId="stat-spend" value={fmtUsd(spend)} delta={delta(spend, spendBefore)} compareLabel={window.compareLabel} caption={spendCaption}>
          <Sparkline x={costSeries.x} values={costSeries.y} color="--c3" label="Spend over the range" />
        </StatCard>
        <StatCard
          label={risk ? 'Open findings' : 'Findings'}
          testId="stat-findings"
          value={fmtInt(risk ? risk.open : now.findings)}
          delta={risk ? null : delta(now.findings, before.findings)}
          compareLabel={window.compareLabel}
          caption={risk ? `${fmtInt(risk.bySeverity.critical + risk.bySeverity.high)} high or critical` : props.riskAbsent ? 'risk monitor not running; counted from interactions' : 'counted from interactions'}
        >
          <Sparkline x={findingSeries.x} values={findingSeries.y} color="--c4" label="Findings over the range" />
        </StatCard>
        <StatCard label="p95 latency" testId="stat-p95" value={fmtMs(now.p95Ms)} delta={delta(now.p95Ms, before.p95Ms)} compareLabel={window.compareLabel}
          caption={`error rate ${fmtPct(now.interactions ? now.errors / now.interactions : null)}`}>
          <Sparkline x={p95Series.x} values={p95Series.y} color="--c2" label="p95 latency over the range" />
        </StatCard>
      </div>

      <div class="grid-2">
        <Panel title="Interactions over time" id="ov-chart">
          {now.interactions === 0 ? (
            <Empty title="No interactions in this range.">Wrap an MCP server with km and use it; its calls appear here within seconds.</Empty>
          ) : (
            <TimeChart
              caption={`Interactions and failures per ${window.bucket === 'minute' ? '5 minutes' : window.bucket}`}
              x={interactionsSeries.x}
              series={[
                { label: 'interactions', color: '--c1', values: interactionsSeries.y, bars: true },
                { label: 'failed', color: '--bad', values: errorSeries.y, bars: true },
              ]}
              unit={(v) => fmtInt(v)}
              step={window.bucketMs / 1000}
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

function countBy<T>(items: T[], key: (item: T) => string): { key: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].map(([k, count]) => ({ key: k, count })).sort((a, b) => b.count - a.count).slice(0, 6);
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
