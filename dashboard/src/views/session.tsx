import { useState } from 'preact/hooks';
import { getJson } from '../api';
import { Empty, ErrorBox, Link, Loading, OutcomeBadge, Panel, SeverityBadge } from '../components/ui';
import { fmtBytes, fmtDateTime, fmtDropped, fmtInt, fmtMs, fmtTime, fmtUsd, DASH } from '../format';
import { hrefTo } from '../place';
import { useQuery } from '../query';
import type { Interaction, Session } from '../types';
import { sessionState } from '../session-state';

/** One session's trace: every interaction on a shared time axis, its preview and findings on click. */
export function SessionView(props: { sessionId: string }) {
  const id = encodeURIComponent(props.sessionId);
  const session = useQuery(`session ${id}`, () => getJson('sessions/{id}', { id }));
  const interactions = useQuery(`session-interactions ${id}`, () => getJson('sessions/{id}/interactions', { id }));

  return (
    <div class="view" data-view="session">
      <p class="crumbs">
        <Link href={hrefTo('/journey')}>← All sessions</Link>
      </p>
      {session.state.kind === 'loading' ? <Loading what="the session" /> : null}
      {session.state.kind === 'absent' ? (
        <Empty title="No such session.">It may belong to another organisation, or its events have not been projected yet.</Empty>
      ) : null}
      {session.state.kind === 'error' ? <ErrorBox message={session.state.message} onRetry={session.refresh} /> : null}
      {session.state.kind === 'ok' ? <SessionHeader session={session.state.data} /> : null}
      {session.state.kind === 'ok' ? (
        <Panel title="Timeline" id="timeline">
          {interactions.state.kind === 'loading' ? <Loading what="interactions" /> : null}
          {interactions.state.kind === 'error' ? <ErrorBox message={interactions.state.message} onRetry={interactions.refresh} /> : null}
          {interactions.state.kind === 'absent' ? <Empty title="No interactions recorded for this session yet." /> : null}
          {interactions.state.kind === 'ok' ? <Waterfall interactions={interactions.state.data.interactions} counted={session.state.data.interactionCount} /> : null}
        </Panel>
      ) : null}
    </div>
  );
}

function SessionHeader(props: { session: Session }) {
  const s = props.session;
  const facts: [string, string][] = [
    ['Client', s.client ? `${s.client.name} ${s.client.version ?? ''}`.trim() : DASH],
    ['Server', s.serverInfo ? `${s.serverInfo.name} ${s.serverInfo.version ?? ''}`.trim() : s.server.name],
    ['Project', s.projectId],
    ['User', s.userId],
    ['Started', fmtDateTime(s.startedAt ?? s.firstSeenAt)],
    ['Duration', s.endedAt ? fmtMs(s.durationMs) : sessionState(s) === 'live' ? 'still running' : 'no end recorded (km stopped without saying so)'],
    ['Protocol', s.protocolVersion ?? DASH],
    ['Exit', s.endedAt ? String(s.exitCode ?? DASH) : DASH],
  ];
  return (
    <>
      <h1>
        {s.server.name} <span class="muted small">session</span>
      </h1>
      <p class="command" title="The server's command line (redacted)">
        <code>{s.server.command}</code>
      </p>
      {s.startError ? (
        <p class="dropped-note" role="alert" data-testid="session-start-error">
          The server never ran: km {s.startError}. Fix the command in the MCP client config (km doctor checks every
          entry).
        </p>
      ) : null}
      {s.droppedPreviews > 0 ? (
        <p class="dropped-note" role="note" data-testid="session-dropped-previews">
          {fmtInt(s.droppedPreviews)} {s.droppedPreviews === 1 ? 'interaction was' : 'interactions were'} recorded without previews: km was behind in a burst of
          calls, so their request and response text is not shown (their figures are complete).
        </p>
      ) : null}
      {s.droppedObservations > 0 ? (
        <p class="dropped-note" role="note" data-testid="session-dropped">
          {fmtDropped(s.droppedObservations)}: km could not record them (the calls came faster than it could observe them, its spool was full, or observing failed), so this
          trace and its numbers miss them.
        </p>
      ) : null}
      <dl class="facts">
        {facts.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
        <div>
          <dt>Calls</dt>
          <dd data-testid="session-calls">{fmtInt(s.interactionCount)}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd class={s.errorCount ? 'bad-text' : ''}>{fmtInt(s.errorCount)}</dd>
        </div>
      </dl>
    </>
  );
}

function Waterfall(props: { interactions: Interaction[]; counted: number }) {
  const [open, setOpen] = useState<string | null>(null);
  const rows = props.interactions;
  // Counted but none kept: the org's retention removed the calls (their totals stay in the session).
  if (rows.length === 0 && props.counted > 0) return <Empty title="This session's calls are no longer kept.">The org's retention removed them; the counts above remain.</Empty>;
  if (rows.length === 0) return <Empty title="No interactions recorded for this session yet." />;
  const start = Math.min(...rows.map((i) => Date.parse(i.startedAt)));
  const end = Math.max(...rows.map((i) => (i.endedAt ? Date.parse(i.endedAt) : Date.parse(i.startedAt) + (i.latencyMs ?? 0))));
  const span = Math.max(end - start, 1);
  const totals = {
    latency: rows.reduce((s, i) => s + (i.latencyMs ?? 0), 0),
    bytes: rows.reduce((s, i) => s + i.requestBytes + i.responseBytes, 0),
    tokens: rows.some((i) => i.tokensIn !== null || i.tokensOut !== null) ? rows.reduce((s, i) => s + (i.tokensIn ?? 0) + (i.tokensOut ?? 0), 0) : null,
    cost: rows.some((i) => i.costUsd !== null) ? rows.reduce((s, i) => s + (i.costUsd ?? 0), 0) : null,
  };
  return (
    <>
      <p class="muted">
        {rows.length} interactions over {fmtMs(span)} · {fmtMs(totals.latency)} waiting on the server · {fmtBytes(totals.bytes)} ·{' '}
        {totals.tokens === null ? 'no token estimates' : `${fmtInt(totals.tokens)} tokens`} · {totals.cost === null ? 'no cost estimates' : fmtUsd(totals.cost)}
      </p>
      <div class="wf" role="list" data-testid="waterfall">
        <div class="wf-head" aria-hidden="true">
          <span class="hide-sm">Start</span>
          <span>Method</span>
          <span>Tool / target</span>
          <span class="wf-track-head">0 – {fmtMs(span)}</span>
          <span class="num">Latency</span>
          <span class="num hide-sm">Size</span>
          <span class="num hide-sm">Tokens</span>
          <span class="num hide-sm">Cost</span>
          <span>Outcome</span>
        </div>
        {rows.map((i) => {
          const offset = Date.parse(i.startedAt) - start;
          const isOpen = open === i.id;
          return (
            <div role="listitem" class={`wf-item ${isOpen ? 'open' : ''}`} key={i.id} data-interaction-id={i.id}>
              <button type="button" class="wf-row" aria-expanded={isOpen} aria-controls={`detail-${i.id}`} onClick={() => setOpen(isOpen ? null : i.id)}>
                <span class="mono muted hide-sm">+{fmtMs(offset)}</span>
                <span class="mono">{i.method}</span>
                <span class="target" title={i.target ?? ''}>
                  {i.target ?? DASH}
                </span>
                <span class="wf-track" aria-hidden="true">
                  <span
                    class={`wf-bar outcome-${i.outcome}`}
                    style={{ left: `${(offset / span) * 100}%`, width: `max(3px, ${(((i.latencyMs ?? 0) / span) * 100).toFixed(3)}%)` }}
                  />
                </span>
                <span class="num mono" data-col="latency">
                  {fmtMs(i.latencyMs)}
                </span>
                <span class="num hide-sm">{fmtBytes(i.requestBytes + i.responseBytes)}</span>
                <span class="num hide-sm">{i.tokensIn === null && i.tokensOut === null ? DASH : fmtInt((i.tokensIn ?? 0) + (i.tokensOut ?? 0))}</span>
                <span class="num hide-sm">{fmtUsd(i.costUsd)}</span>
                <span class="wf-outcome">
                  {i.refusedByPolicy ? (
                    <span class="badge outcome-error" title="km's policy (km.json) refused this call: the server never saw it">
                      refused
                    </span>
                  ) : i.abandoned ? (
                    <span class="badge" title="the client ended the session before the answer came: no timeout of the server's">
                      abandoned
                    </span>
                  ) : (
                    <OutcomeBadge outcome={i.outcome} />
                  )}
                  {i.findings.length ? <span class="badge sev-high" title="risk findings">⚑ {i.findings.length}</span> : null}
                </span>
              </button>
              {isOpen ? <InteractionDetail interaction={i} /> : null}
            </div>
          );
        })}
      </div>
    </>
  );
}

function InteractionDetail(props: { interaction: Interaction }) {
  const i = props.interaction;
  return (
    <div class="wf-detail" id={`detail-${i.id}`} data-testid="interaction-detail">
      <dl class="facts compact">
        <div>
          <dt>Started</dt>
          <dd>{fmtTime(i.startedAt)}</dd>
        </div>
        <div>
          <dt>Direction</dt>
          <dd>{i.direction.replace(/_/g, ' ')}</dd>
        </div>
        <div>
          <dt>Request</dt>
          <dd>{fmtBytes(i.requestBytes)}</dd>
        </div>
        <div>
          <dt>Response</dt>
          <dd>{fmtBytes(i.responseBytes)}</dd>
        </div>
        <div>
          <dt>Tokens in / out</dt>
          <dd>
            {fmtInt(i.tokensIn)} / {fmtInt(i.tokensOut)}
          </dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd>{fmtUsd(i.costUsd)}</dd>
        </div>
      </dl>
      {i.error ? (
        <p class="error-line" role="note">
          Error {i.error.code}: {i.error.message}
        </p>
      ) : null}
      {i.findings.length ? (
        <ul class="findings">
          {i.findings.map((f, n) => (
            <li key={n}>
              <SeverityBadge severity={f.severity} /> <code>{f.ruleId}</code> at <code>{f.path}</code>
            </li>
          ))}
        </ul>
      ) : null}
      <div class="previews">
        <Preview title="Request (redacted)" text={i.requestPreview} />
        <Preview title="Response (redacted)" text={i.responsePreview} />
      </div>
    </div>
  );
}

function Preview(props: { title: string; text: string | null }) {
  return (
    <div class="preview">
      <h4>{props.title}</h4>
      {props.text === null ? (
        <p class="muted">No preview was recorded for this interaction.</p>
      ) : (
        <pre tabIndex={0}>{pretty(props.text)}</pre>
      )}
    </div>
  );
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
