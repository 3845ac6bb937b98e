import { droppedObservations, usageMap, type Activity } from '../activity';
import { Empty, Link, QueryResult, Panel } from '../components/ui';
import type { Filters } from '../filters';
import { fmtDateTime, fmtDropped, fmtInt, fmtMs } from '../format';
import { hrefTo } from '../place';
import { useActivity } from './use-activity';
import { sessionState } from '../session-state';

/** Every session of the range, and who used which server and tool. */
export function JourneyView(props: { filters: Filters }) {
  const activity = useActivity(props.filters);
  return (
    <div class="view" data-view="journey">
      <h1>Journey</h1>
      <QueryResult query={activity} what="sessions" absent={<Empty title="The sessions API is missing on this server." />}>
        {(data) => <JourneyBody activity={data} />}
      </QueryResult>
    </div>
  );
}

function JourneyBody(props: { activity: Activity }) {
  const { window } = props.activity;
  const sessions = props.activity.sessions.filter((s) => Date.parse(s.lastActivityAt) >= window.from.getTime());
  if (sessions.length === 0) {
    return (
      <Empty title={`No sessions in this range (${window.label.toLowerCase()}).`}>
        Wrap an MCP server with <code>km</code> (see the README) and use it from your MCP client, or widen the time range.
      </Empty>
    );
  }
  const dropped = droppedObservations(sessions);
  return (
    <>
      {dropped > 0 ? (
        <p class="dropped-note" role="note" data-testid="dropped-total">
          {fmtDropped(dropped)} in these sessions: km could not record them (the calls came faster than it could observe them, its spool was full, or observing failed), so the
          numbers below miss them. The km.log of the machine that ran them says why.
        </p>
      ) : null}
      <Panel title="Who used what" id="usage-map">
        <UsageMapView map={usageMap(sessions, props.activity.latency?.tools ?? [])} />
      </Panel>
      <Panel title={`Sessions (${sessions.length}${props.activity.sessionsCapped ? '+, the newest' : ''})`} id="sessions">
        <div class="table-wrap">
          <table class="table" data-testid="sessions-table">
            <thead>
              <tr>
                <th scope="col">Server</th>
                <th scope="col" class="hide-sm">Client</th>
                <th scope="col" class="hide-sm">Project</th>
                <th scope="col" class="hide-sm">User</th>
                <th scope="col">Started</th>
                <th scope="col" class="num hide-sm">Duration</th>
                <th scope="col" class="num">Calls</th>
                <th scope="col" class="num">Failed</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id} data-session-id={s.id}>
                  <td>
                    <Link href={hrefTo(`/journey/${encodeURIComponent(s.id)}`)}>{s.server.name}</Link>
                    {sessionState(s) === 'live' ? <span class="badge live-badge">live</span> : null}
                    {sessionState(s) === 'no-end' ? (
                      <span class="badge" title="km stopped without recording the end of this session (killed?), and it has been quiet for 30 minutes">
                        no end recorded
                      </span>
                    ) : null}
                    {s.startError ? (
                      <span class="badge bad-badge" data-testid="row-start-error" title={s.startError}>
                        failed to start
                      </span>
                    ) : null}
                    {s.droppedObservations > 0 ? (
                      <span class="badge dropped-badge" data-testid="row-dropped" title="events km could not record in this session">
                        {fmtDropped(s.droppedObservations)}
                      </span>
                    ) : null}
                    <span class="muted small show-sm">{s.client?.name ?? 'unknown client'}</span>
                  </td>
                  <td class="hide-sm">{s.client ? `${s.client.name}${s.client.version ? ` ${s.client.version}` : ''}` : '—'}</td>
                  <td class="hide-sm">{s.projectId}</td>
                  <td class="hide-sm">{s.userId}</td>
                  <td>{fmtDateTime(s.startedAt ?? s.firstSeenAt)}</td>
                  <td class="num hide-sm">{fmtMs(s.durationMs)}</td>
                  <td class="num" data-col="calls">{fmtInt(s.interactionCount)}</td>
                  <td class={`num ${s.errorCount ? 'bad-text' : ''}`}>{fmtInt(s.errorCount)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </>
  );
}

/**
 * Clients against servers as a heat grid (the bipartite graph as a matrix: a cell is an edge, its shade the
 * number of calls), then each server's tools. Plain DOM and CSS.
 */
function UsageMapView(props: { map: ReturnType<typeof usageMap> }) {
  const { clients, servers, calls, tools } = props.map;
  const max = Math.max(1, ...clients.flatMap((c) => servers.map((s) => calls.get(c)?.get(s) ?? 0)));
  return (
    <div class="usage">
      <div class="table-wrap">
        <table class="matrix" data-testid="usage-matrix">
          <caption class="visually-hidden">Interactions per client and server</caption>
          <thead>
            <tr>
              <th scope="col">Client \ Server</th>
              {servers.map((s) => (
                <th scope="col" key={s}>
                  {s}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {clients.map((client) => (
              <tr key={client}>
                <th scope="row">{client}</th>
                {servers.map((server) => {
                  const used = calls.get(client)?.has(server) ?? false;
                  const count = calls.get(client)?.get(server) ?? 0;
                  return (
                    <td key={server} class={used ? 'edge' : 'no-edge'} style={used ? { '--heat': String(0.15 + (0.85 * count) / max) } : undefined}>
                      {used ? fmtInt(count) : ''}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="server-tools">
        {servers.map((server) => {
          const list = tools.get(server) ?? [];
          const top = Math.max(1, ...list.map((t) => t.count));
          return (
            <div class="server-card" key={server}>
              <h3>{server}</h3>
              {list.length === 0 ? (
                <p class="muted">no tool calls</p>
              ) : (
                <ol class="bars">
                  {list.slice(0, 8).map((t) => (
                    <li key={t.tool}>
                      <span class="bar-label" title={t.tool}>
                        {t.tool}
                      </span>
                      <span class="bar-track" aria-hidden="true">
                        <span style={{ width: `${(t.count / top) * 100}%` }} class={t.errors ? 'has-errors' : ''} />
                      </span>
                      <span class="bar-value">
                        {fmtInt(t.count)}
                        {t.errors ? <span class="bad-text"> ({t.errors} failed)</span> : null}
                      </span>
                    </li>
                  ))}
                </ol>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}
