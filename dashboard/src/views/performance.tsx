import { getJson } from '../api';
import { TimeChart } from '../components/chart';
import { BreakableKey, Empty, Link, NotYet, OutcomeBadge, Panel, ParamSelect, QueryResult, ShareBar } from '../components/ui';
import { apiParams, filtersKey, latencyBucket, resolveWindow, type Filters } from '../filters';
import { fmtDateTime, fmtInt, fmtMs, fmtPct } from '../format';
import { hrefTo } from '../place';
import { useQuery } from '../query';

const GROUPS = ['server', 'tool', 'method'] as const;
type GroupBy = (typeof GROUPS)[number];

const BUCKET_SECONDS: Record<string, number> = { hour: 3600, day: 86_400 };
/** The most /api/latency/slowest answers: each latency bucket keeps its 20 slowest calls. */
const SLOWEST_LIMIT = 20;
const pointSeconds = (t: string | number) => (typeof t === 'number' ? (t > 1e11 ? t / 1000 : t) : Date.parse(t) / 1000);

/** Latency percentiles and error rates per server and tool, over time; the slowest calls; where the time goes. */
export function PerformanceView(props: { filters: Filters }) {
  const { filters } = props;
  const byParam = new URLSearchParams(window.location.search).get('by');
  const groupBy: GroupBy = GROUPS.includes(byParam as GroupBy) ? (byParam as GroupBy) : 'tool';
  const key = filtersKey(filters);
  const params = () => apiParams(filters, resolveWindow(filters, new Date()));
  // Percentiles per method are kept per org, project or user, and per server without a tool: the API refuses the
  // filters it cannot honour, so those are left out of the request (and said so under the table).
  const dropped = groupBy === 'method' ? { server: undefined, tool: undefined } : groupBy === 'server' ? { tool: undefined } : {};
  const groups = useQuery(`latency ${key} ${groupBy}`, () => getJson('latency', { ...params(), ...dropped, groupBy }));
  const series = useQuery(`latency-ts ${key}`, () =>
    getJson('latency/timeseries', { ...params(), bucket: latencyBucket(resolveWindow(filters, new Date())) }),
  );
  // The slowest calls are kept per org, project or user: the server and tool filters apply here, in the page.
  const slowest = useQuery(`latency-slowest ${key}`, async () => {
    const { server: _server, tool: _tool, ...scope } = params();
    const answer = await getJson('latency/slowest', { ...scope, limit: SLOWEST_LIMIT });
    if (answer.kind !== 'ok') return answer;
    const wanted = answer.data.interactions.filter((i) => (!filters.server || i.server === filters.server) && (!filters.tool || i.tool === filters.tool));
    return { kind: 'ok' as const, data: { interactions: wanted.slice(0, 10) } };
  });
  const bottlenecks = useQuery(`latency-bottlenecks ${key}`, () => getJson('latency/bottlenecks', params()));
  const scope = [filters.server, filters.tool].filter(Boolean).join(' · ') || 'all servers and tools';

  return (
    <div class="view" data-view="performance">
      <h1>Performance Hub</h1>
      <Panel title={`Latency over time: ${scope}`} id="perf-timeseries">
        {series.state.kind === 'error' && series.state.status === 400 && !filters.server ? (
          <Empty title="Pick a server in the filters to see its latency over time.">This server charts one server (and tool) at a time.</Empty>
        ) : (
        <QueryResult query={series} what="latency over time" absent={<NotYet feature="latency" endpoint="GET /api/latency/timeseries" />}>
          {(s) =>
            s.points.length === 0 ? (
              <Empty title="No calls in this range." />
            ) : (
              <TimeChart
                caption="p50, p95 and p99 latency, and error rate"
                x={s.points.map((p) => pointSeconds(p.t))}
                series={[
                  { label: 'p50', color: '--c1', values: s.points.map((p) => p.p50) },
                  { label: 'p95', color: '--c2', values: s.points.map((p) => p.p95) },
                  { label: 'p99', color: '--c4', values: s.points.map((p) => p.p99) },
                  { label: 'error rate', color: '--bad', values: s.points.map((p) => (p.count ? p.errorRate : null)), right: true },
                ]}
                unit={fmtMs}
                rightUnit={(v) => fmtPct(v, 0)}
                step={BUCKET_SECONDS[s.bucket] ?? 3600}
              />
            )
          }
        </QueryResult>
        )}
      </Panel>

      <Panel
        title="Percentiles"
        id="perf-groups"
        actions={
          <ParamSelect id="perf-by" label="Per" param="by" value={groupBy} options={GROUPS} />
        }
      >
        <QueryResult query={groups} what="latency percentiles" absent={<NotYet feature="latency" endpoint="GET /api/latency" />}>
          {(g) =>
            g.groups.length === 0 ? (
              <Empty title="No calls in this range." />
            ) : (
              <div class="table-wrap">
                <table class="table" data-testid="latency-table">
                  <thead>
                    <tr>
                      <th scope="col">{groupBy}</th>
                      <th scope="col" class="num">Calls</th>
                      <th scope="col" class="num">p50</th>
                      <th scope="col" class="num">p95</th>
                      <th scope="col" class="num hide-sm">p99</th>
                      <th scope="col" class="num hide-sm">Max</th>
                      <th scope="col" class="num">Errors</th>
                    </tr>
                  </thead>
                  <tbody>
                    {g.groups.map((row) => (
                      <tr key={row.key}>
                        <th scope="row"><BreakableKey text={row.key} /></th>
                        <td class="num">{fmtInt(row.count)}</td>
                        <td class="num">{fmtMs(row.p50)}</td>
                        <td class="num">{fmtMs(row.p95)}</td>
                        <td class="num hide-sm">{fmtMs(row.p99)}</td>
                        <td class="num hide-sm">{fmtMs(row.max)}</td>
                        <td class={`num ${row.errorRate > 0 ? 'bad-text' : ''}`}>{fmtPct(row.errorRate)}</td>
                      </tr>
                    ))}
                  </tbody>
                  {/* Every call the filters pass, as one: the API's merged sketch, the same figures the Overview shows. */}
                  <tfoot>
                    <tr data-testid="latency-total">
                      <th scope="row">All calls</th>
                      <td class="num">{fmtInt(g.total.count)}</td>
                      <td class="num">{fmtMs(g.total.p50)}</td>
                      <td class="num">{fmtMs(g.total.p95)}</td>
                      <td class="num hide-sm">{fmtMs(g.total.p99)}</td>
                      <td class="num hide-sm">{fmtMs(g.total.max)}</td>
                      <td class={`num ${g.total.errorRate > 0 ? 'bad-text' : ''}`}>{fmtPct(g.total.count ? g.total.errorRate : null)}</td>
                    </tr>
                  </tfoot>
                </table>
                {Object.keys(dropped).some((name) => filters[name as 'server' | 'tool']) ? (
                  <p class="muted small">Per {groupBy}, the {Object.keys(dropped).join(' and ')} filter does not apply.</p>
                ) : null}
              </div>
            )
          }
        </QueryResult>
      </Panel>

      <div class="grid-2">
        <Panel title="Slowest interactions" id="perf-slowest">
          <QueryResult query={slowest} what="the slowest interactions" absent={<NotYet feature="latency" endpoint="GET /api/latency/slowest" />}>
            {(s) =>
              s.interactions.length === 0 ? (
                <Empty title="No calls in this range." />
              ) : (
                <ol class="slowest">
                  {s.interactions.map((i) => (
                    <li key={i.id}>
                      <Link href={hrefTo(`/journey/${encodeURIComponent(i.sessionId)}`)}>
                        <strong>{i.tool ?? i.method}</strong> <span class="muted">on {i.server}</span>
                      </Link>
                      <span class="mono">{fmtMs(i.latencyMs)}</span>
                      <span class="muted small">{fmtDateTime(i.startedAt)}</span>
                      <OutcomeBadge outcome={i.outcome} />
                    </li>
                  ))}
                </ol>
              )
            }
          </QueryResult>
        </Panel>
        <Panel title="Bottlenecks" id="perf-bottlenecks">
          <p class="muted small">Where the waiting time went: total latency per server and tool.</p>
          <QueryResult query={bottlenecks} what="bottlenecks" absent={<NotYet feature="latency" endpoint="GET /api/latency/bottlenecks" />}>
            {(b) =>
              b.groups.length === 0 ? (
                <Empty title="No calls in this range." />
              ) : (
                <ol class="bottlenecks">
                  {b.groups.map((g) => (
                    <li key={`${g.server} ${g.tool}`}>
                      <div class="budget-head">
                        <strong>
                          {g.server}
                          {g.tool ? ` · ${g.tool}` : ''}
                        </strong>
                        <span>
                          {fmtMs(g.totalMs)} in {fmtInt(g.count)} {g.count === 1 ? 'call' : 'calls'} ({fmtPct(g.share, 0)})
                        </span>
                      </div>
                      <ShareBar ratio={g.share} label={`${g.server} ${g.tool ?? ''}: ${fmtPct(g.share, 0)} of the waiting time`} />
                    </li>
                  ))}
                </ol>
              )
            }
          </QueryResult>
        </Panel>
      </div>
    </div>
  );
}
