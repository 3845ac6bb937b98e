import { getJson, type Loaded } from '../api';
import { TimeChart } from '../components/chart';
import { BreakableKey, Empty, NotYet, Panel, ParamSelect, QueryResult, ShareBar, StatCard } from '../components/ui';
import { apiParams, costFilter, filtersKey, resolveWindow, type Filters } from '../filters';
import { delta, fmtBytes, fmtInt, fmtPct, fmtUsd } from '../format';
import { useQuery } from '../query';
import type { CostReport, CostSummary, CostTotals } from '../types';

const GROUPS = ['project', 'user', 'server', 'tool', 'model', 'day'] as const;
type GroupBy = (typeof GROUPS)[number];

const dayToSeconds = (day: string) => Date.parse(day.length === 10 ? `${day}T00:00:00Z` : day) / 1000;
const totalOf = (value: CostTotals | number) => (typeof value === 'number' ? value : value.costUsd);

/** Where the money went: the cost projector's summary, a breakdown, budgets and the context tax of tool lists. */
export function CostView(props: { filters: Filters }) {
  const { filters } = props;
  const groupParam = new URLSearchParams(window.location.search).get('by');
  const chosen: GroupBy = GROUPS.includes(groupParam as GroupBy) ? (groupParam as GroupBy) : 'server';
  const key = filtersKey(filters);
  const params = () => apiParams(filters, resolveWindow(filters, new Date()));
  const narrowed = costFilter(filters);
  // With a filter, the breakdown is by day or by the filter's own dimension: spend is not kept per pair of them.
  const groupBy: GroupBy = 'dimension' in narrowed && narrowed.dimension && chosen !== 'day' && chosen !== narrowed.dimension ? narrowed.dimension : chosen;
  // Two filters at once: said in place of the spend, rather than asked of the API (which refuses them).
  const refused = <T,>(conflict: string): Loaded<T> => ({ kind: 'error', message: conflict });
  const summary = useQuery(`cost-summary ${key}`, async () => ('conflict' in narrowed ? refused<CostSummary>(narrowed.conflict) : getJson('cost/summary', narrowed.params)));
  const report = useQuery(`cost ${key} ${groupBy}`, async () => {
    if ('conflict' in narrowed) return refused<CostReport>(narrowed.conflict);
    const { from, to } = params();
    return getJson('cost', { from, to, ...narrowed.params, groupBy });
  });
  const budgets = useQuery(`budgets ${key}`, () => getJson('budgets', { projectId: filters.project, teamId: filters.team }));
  const tax = useQuery(`context-tax ${key}`, () => getJson('cost/context-tax', { server: filters.server }));

  return (
    <div class="view" data-view="cost">
      <h1>Cost Center</h1>
      <QueryResult query={summary} what="spend" absent={<NotYet feature="cost" endpoint="GET /api/cost/summary" />}>
        {(s) => (
          <>
            <div class="stats">
              <StatCard label="Today" testId="cost-today" value={fmtUsd(s.today.costUsd)} delta={delta(s.today.costUsd, s.yesterday.costUsd)} compareLabel="vs yesterday"
                caption={`${fmtInt(s.today.interactions)} calls · ${fmtInt(s.today.tokensIn + s.today.tokensOut)} tokens`} />
              <StatCard label="Yesterday" testId="cost-yesterday" value={fmtUsd(s.yesterday.costUsd)} caption={`${fmtInt(s.yesterday.interactions)} calls`} />
              <StatCard label="Month to date" testId="cost-mtd" value={fmtUsd(s.monthToDate.costUsd)} caption={`${fmtInt(s.monthToDate.interactions)} calls`} />
              <StatCard label="Forecast, month end" testId="cost-forecast" value={fmtUsd(totalOf(s.forecastMonthEnd))} caption="at the current daily rate" />
            </div>
            {s.complete === false ? <PartialNote /> : null}
            <Panel title="Spend per day" id="cost-days">
              {s.byDay.length === 0 ? (
                <Empty title="No spend recorded yet." />
              ) : (
                <TimeChart caption="Spend per day (USD)" x={s.byDay.map((d) => dayToSeconds(d.day))} series={[{ label: 'spend', color: '--c3', values: s.byDay.map((d) => d.costUsd), bars: true }]} unit={fmtUsd} step={86_400} />
              )}
            </Panel>
          </>
        )}
      </QueryResult>

      <Panel
        title="Breakdown"
        id="cost-breakdown"
        actions={
          <ParamSelect id="cost-by" label="Group by" param="by" value={groupBy} options={GROUPS} />
        }
      >
        <QueryResult query={report} what="the breakdown" absent={<NotYet feature="cost" endpoint="GET /api/cost" />}>
          {(r) => (
            <>
              {r.complete === false ? <PartialNote /> : null}
              {r.groups.length === 0 ? (
                <Empty title="No spend in this range." />
              ) : (
                <div class="table-wrap">
                  <table class="table" data-testid="cost-table">
                    <thead>
                      <tr>
                        <th scope="col">{groupBy}</th>
                        <th scope="col" class="num">Cost ({r.currency})</th>
                        <th scope="col" class="share-col">Share</th>
                        <th scope="col" class="num hide-sm">Tokens in</th>
                        <th scope="col" class="num hide-sm">Tokens out</th>
                        <th scope="col" class="num">Calls</th>
                      </tr>
                    </thead>
                    <tbody>
                      {r.groups.map((g) => (
                        <tr key={g.key}>
                          <th scope="row"><BreakableKey text={g.key} /></th>
                          <td class="num">{fmtUsd(g.costUsd)}</td>
                          <td class="share-col">
                            <ShareBar ratio={r.total.costUsd ? g.costUsd / r.total.costUsd : 0} label={`${g.key}: ${fmtPct(r.total.costUsd ? g.costUsd / r.total.costUsd : 0)} of spend`} />
                          </td>
                          <td class="num hide-sm">{fmtInt(g.tokensIn)}</td>
                          <td class="num hide-sm">{fmtInt(g.tokensOut)}</td>
                          <td class="num">{fmtInt(g.interactions)}</td>
                        </tr>
                      ))}
                    </tbody>
                    <tfoot>
                      <tr>
                        <th scope="row">Total</th>
                        <td class="num" data-testid="cost-total">{fmtUsd(r.total.costUsd)}</td>
                        <td class="share-col" />
                        <td class="num hide-sm">{fmtInt(r.total.tokensIn)}</td>
                        <td class="num hide-sm">{fmtInt(r.total.tokensOut)}</td>
                        <td class="num">{fmtInt(r.total.interactions)}</td>
                      </tr>
                    </tfoot>
                  </table>
                </div>
              )}
            </>
          )}
        </QueryResult>
      </Panel>

      <div class="grid-2">
        <Panel title="Budgets" id="cost-budgets">
          <QueryResult query={budgets} what="budgets" absent={<NotYet feature="budget" endpoint="GET /api/budgets" />}>
            {(b) =>
              b.budgets.length === 0 ? (
                <Empty title="No budgets set." />
              ) : (
                <ul class="budgets">
                  {b.budgets.map((budget, n) => {
                    // From the amounts rather than `percent`, which may be a ratio or a percentage.
                    const used = budget.monthlyUsd > 0 ? budget.spentUsd / budget.monthlyUsd : 0;
                    const name = budget.scope === 'team' ? `team ${budget.teamId}` : (budget.projectId ?? budget.scope);
                    return (
                      <li key={n} class={used >= 1 ? 'over' : ''}>
                        <div class="budget-head">
                          <strong>{name}</strong>
                          <span>
                            {fmtUsd(budget.spentUsd)} of {fmtUsd(budget.monthlyUsd)} ({fmtPct(used, 0)})
                          </span>
                        </div>
                        <ShareBar ratio={used} label={`${name}: ${fmtPct(used, 0)} of the budget used`} />
                        <span class={`small ${budget.forecastUsd > budget.monthlyUsd ? 'bad-text' : 'muted'}`}>
                          forecast {fmtUsd(budget.forecastUsd)} for {budget.period}
                          {budget.crossed?.length ? ` · crossed ${budget.crossed.map((c) => `${c}%`).join(', ')}` : ''}
                        </span>
                      </li>
                    );
                  })}
                </ul>
              )
            }
          </QueryResult>
        </Panel>
        <Panel title="Context tax" id="cost-context-tax">
          <p class="muted small">What each server's tool list costs in context before any call is made.</p>
          <QueryResult query={tax} what="the context tax" absent={<NotYet feature="context tax" endpoint="GET /api/cost/context-tax" />}>
            {(t) =>
              t.servers.length === 0 ? (
                <Empty title="No tool lists recorded yet." />
              ) : (
                <div class="table-wrap">
                  <table class="table">
                    <thead>
                      <tr>
                        <th scope="col">Server</th>
                        <th scope="col" class="num">Tools</th>
                        <th scope="col" class="num hide-sm">Definitions</th>
                        <th scope="col" class="num">Tokens</th>
                        <th scope="col" class="num">Per session</th>
                      </tr>
                    </thead>
                    <tbody>
                      {t.servers.map((s) => (
                        <tr key={s.server}>
                          <th scope="row">{s.server}</th>
                          <td class="num">{fmtInt(s.tools)}</td>
                          <td class="num hide-sm">{fmtBytes(s.definitionBytes)}</td>
                          <td class="num">{fmtInt(s.contextTokens)}</td>
                          <td class="num">{fmtUsd(s.costUsdPerSession)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )
            }
          </QueryResult>
        </Panel>
      </div>
    </div>
  );
}

/** A filtered answer that may miss spend: an hour held more of the filter's keys than a bucket keeps (complete: false). */
function PartialNote() {
  return (
    <p class="muted small" role="note" data-testid="cost-partial">
      Some of this filter's spend may be missing: an hour in this range had more than 500 of its keys, and the rest were summed under (other).
    </p>
  );
}
