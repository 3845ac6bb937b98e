import { useState } from 'preact/hooks';
import { getJson, postJson } from '../api';
import { TimeChart } from '../components/chart';
import { Empty, Link, ParamSelect, QueryResult, NotYet, Panel, SeverityBadge, StatCard } from '../components/ui';
import { apiParams, filtersKey, resolveWindow, type Filters } from '../filters';
import { fmtDateTime, fmtInt } from '../format';
import { hrefTo } from '../place';
import { useQuery } from '../query';
import type { RiskFinding } from '../types';

const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
const STATUSES = ['open', 'acknowledged', 'resolved'] as const;
const KINDS = ['secret', 'pii', 'path', 'destructive', 'poisoning', 'rug_pull', 'anomaly', 'policy'] as const;

/** Findings with their evidence, and the two things to do about one: acknowledge it, resolve it. */
export function RiskView(props: { filters: Filters }) {
  const { filters } = props;
  const query = new URLSearchParams(window.location.search);
  const severity = query.get('severity');
  const status = query.get('status');
  const kind = query.get('kind');
  const key = `${filtersKey(filters)} ${severity} ${status} ${kind}`;
  const params = () => apiParams(filters, resolveWindow(filters, new Date()));
  const summary = useQuery(`risk-summary ${filtersKey(filters)}`, () => getJson('risk/summary', params()));
  const findings = useQuery(`risk-findings ${key}`, () => getJson('risk/findings', { ...params(), severity, status, kind }));
  const [actionError, setActionError] = useState<string | null>(null);

  const act = async (finding: RiskFinding, action: 'ack' | 'resolve') => {
    setActionError(null);
    const result = await postJson(action === 'ack' ? 'risk/findings/{id}/ack' : 'risk/findings/{id}/resolve', { id: finding.id });
    if (result.kind !== 'ok') setActionError(`Could not ${action === 'ack' ? 'acknowledge' : 'resolve'} the finding: ${result.message}`);
    findings.refresh();
    summary.refresh();
  };

  return (
    <div class="view" data-view="risk">
      <h1>Risk Monitor</h1>
      <QueryResult query={summary} what="the risk summary" absent={<NotYet feature="risk" endpoint="GET /api/risk/summary" />}>
        {(s) => (
          <>
            <div class="stats">
              <StatCard label="Open findings" testId="risk-open" value={`${fmtInt(s.open)}${s.complete === false ? '+' : ''}`} caption={s.complete === false ? 'the newest 10,000 counted' : undefined} />
              {SEVERITIES.map((sev) => (
                <StatCard key={sev} label={sev[0]!.toUpperCase() + sev.slice(1)} testId={`risk-${sev}`} value={fmtInt(s.bySeverity[sev] ?? 0)} />
              ))}
            </div>
            <div class="grid-2">
              <Panel title="Findings per day" id="risk-days">
                {s.byDay.length === 0 ? (
                  <Empty title="No findings in this range." />
                ) : (
                  <TimeChart caption="Findings per day" x={s.byDay.map((d) => Date.parse(d.day.length === 10 ? `${d.day}T00:00:00Z` : d.day) / 1000)} series={[{ label: 'findings', color: '--c4', values: s.byDay.map((d) => d.count), bars: true }]} unit={fmtInt} step={86_400} integers />
                )}
              </Panel>
              <Panel title="By rule" id="risk-rules">
                {s.byRule.length === 0 ? (
                  <Empty title="No rule matched." />
                ) : (
                  <ol class="bars">
                    {s.byRule.map((r) => (
                      <li key={r.ruleId}>
                        <span class="bar-label">{r.ruleId}</span>
                        <span class="bar-track" aria-hidden="true">
                          <span style={{ width: `${(r.count / Math.max(1, ...s.byRule.map((x) => x.count))) * 100}%` }} />
                        </span>
                        <span class="bar-value">{fmtInt(r.count)}</span>
                      </li>
                    ))}
                  </ol>
                )}
              </Panel>
            </div>
          </>
        )}
      </QueryResult>

      <Panel
        title="Findings"
        id="risk-findings"
        actions={
          <div class="inline-fields">
            <ParamSelect id="risk-severity" label="Severity" value={severity} options={SEVERITIES} param="severity" any="any" />
            <ParamSelect id="risk-status" label="Status" value={status} options={STATUSES} param="status" any="any" />
            <ParamSelect id="risk-kind" label="Kind" value={kind} options={KINDS} param="kind" any="any" />
          </div>
        }
      >
        {actionError ? (
          <p class="error-line" role="alert">
            {actionError}
          </p>
        ) : null}
        <QueryResult query={findings} what="findings" absent={<NotYet feature="risk" endpoint="GET /api/risk/findings" />}>
          {(f) => (f.findings.length === 0 ? <Empty title="No findings match." /> : <FindingList findings={f.findings} act={act} />)}
        </QueryResult>
      </Panel>
    </div>
  );
}

/** A request's and its response's findings of one rule would read as duplicates without saying which side. */
const whereIn = (path: string | null | undefined) =>
  !path ? null : /^\$?\.?(params|method)\b/.test(path) ? 'request' : /^\$?\.?(result|error)\b/.test(path) ? 'response' : null;

function FindingList(props: { findings: RiskFinding[]; act: (f: RiskFinding, action: 'ack' | 'resolve') => Promise<void> }) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <ul class="finding-list" data-testid="findings">
      {props.findings.map((f) => (
        <li key={f.id} class={`finding status-${f.status}`}>
          <div class="finding-row">
            <SeverityBadge severity={f.severity} />
            <button type="button" class="linklike" aria-expanded={open === f.id} onClick={() => setOpen(open === f.id ? null : f.id)}>
              <code>{f.ruleId}</code> <span class="muted">{f.kind}</span>
            </button>
            <span class="muted">
              {f.server}
              {f.tool ? ` · ${f.tool}` : ''}
              {whereIn(f.path) ? ` · in the ${whereIn(f.path)}` : ''} · {fmtDateTime(f.ts)}
            </span>
            <span class={`badge status ${f.status}`}>{f.status}</span>
            <span class="finding-actions">
              <button type="button" disabled={f.status !== 'open'} onClick={() => void props.act(f, 'ack')}>
                Acknowledge
              </button>
              <button type="button" disabled={f.status === 'resolved'} onClick={() => void props.act(f, 'resolve')}>
                Resolve
              </button>
            </span>
          </div>
          {open === f.id ? (
            <div class="evidence">
              <p>
                At <code>{f.path}</code>
                {/* An anomaly of a server or a user has no one session. */}
                {f.sessionId ? (
                  <>
                    {' '}in <Link href={hrefTo(`/journey/${encodeURIComponent(f.sessionId)}`)}>session {f.sessionId.slice(0, 8)}</Link>
                  </>
                ) : null}
                {f.userId ? `, user ${f.userId}` : ''}
                {f.projectId ? `, project ${f.projectId}` : ''}.
              </p>
              {f.preview ? <pre tabIndex={0}>{f.preview}</pre> : <p class="muted">No preview recorded.</p>}
              {f.detail ? <pre tabIndex={0}>{typeof f.detail === 'string' ? f.detail : JSON.stringify(f.detail, null, 2)}</pre> : null}
            </div>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
