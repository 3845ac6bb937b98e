import { useEffect, useRef, useState } from 'preact/hooks';
import type { RouteAnswer, firstRunRoute } from '@km/shared';
import { API_BASE, getJson } from '../api';
import type { Account } from '../sign-in';
import { Link, Panel, SeverityBadge } from '../components/ui';
import { fmtInt, fmtMs, fmtUsd } from '../format';
import { hrefTo } from '../place';

type FirstRun = RouteAnswer<typeof firstRunRoute>;

/** The clients `km init --client` knows (cli/src/init/clients.ts), with the names their users know them by. */
export const CLIENTS = [
  { id: 'claude-code', title: 'Claude Code' },
  { id: 'claude-desktop', title: 'Claude Desktop' },
  { id: 'cursor', title: 'Cursor' },
  { id: 'vscode', title: 'VS Code' },
  { id: 'windsurf', title: 'Windsurf' },
  { id: 'gemini', title: 'Gemini CLI' },
  { id: 'codex', title: 'Codex' },
] as const;
const OSES = [
  { id: 'mac', title: 'macOS' },
  { id: 'linux', title: 'Linux' },
  { id: 'windows', title: 'Windows (PowerShell)' },
] as const;
type Os = (typeof OSES)[number]['id'];
/**
 * Where this server offers the km it runs (km serve: functions/src/host/install-package.ts; Azure: the deploy puts
 * the packed CLI there in the static site): km installs from the team's own server, the version it speaks.
 */
export const INSTALL_PATH = '/install/km.tgz';
const POLL_MS = 2000;

function guessOs(): Os {
  const platform = `${(navigator as Navigator & { userAgentData?: { platform?: string } }).userAgentData?.platform ?? ''} ${navigator.userAgent}`;
  if (/win/i.test(platform)) return 'windows';
  if (/mac|iphone|ipad/i.test(platform)) return 'mac';
  return 'linux';
}

/**
 * The one command to paste: install km from this server, (on a team's server) log in with the key made here, wrap
 * the client's servers. better-sqlite3 (only km serve's) may build its native module: npm asks before running it.
 * PowerShell 5 has no `&&`: there the steps are separated by `;`.
 */
export function setupCommand(os: Os, client: string, origin: string, login: { endpoint: string; key: string } | null): string {
  const steps = [`npm i -g --allow-scripts=better-sqlite3 ${origin}${INSTALL_PATH}`, ...(login ? [`km login --endpoint ${login.endpoint} --key ${login.key}`] : []), `km init --client ${client} --yes`];
  return steps.join(os === 'windows' ? '; ' : ' && ');
}

/**
 * The guided first run: the command for this OS and client, an API key when the dashboard is a team's server, then
 * a live wait for the org's first event and the "first insight" of what was recorded, with the time since the
 * page opened (the browser's clock, from this page's opening to the answer that held the event), or the event's own
 * time when the org had it before the page opened.
 */
export function FirstRunView({ account }: { account: Account | null }) {
  const opened = useRef(performance.now());
  const [os, setOs] = useState<Os>(guessOs);
  const [client, setClient] = useState<string>('claude-code');
  const [first, setFirst] = useState<FirstRun | null>(null);
  const [tookMs, setTookMs] = useState<number | null>(null);
  // The org had its first event before this page opened: its time, not a wait, is what the page can say.
  const [recordedBefore, setRecordedBefore] = useState(false);
  const answered = useRef(false);
  const [waitedS, setWaitedS] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);
  const [key, setKey] = useState<{ state: 'none' } | { state: 'making' } | { state: 'made'; key: string } | { state: 'failed'; message: string }>({ state: 'none' });
  const [copied, setCopied] = useState(false);
  // A team's server: the wrappers ship with a key of the org; a loopback km serve ships with its own.
  const team = account !== null && account.actor !== 'local';

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      const answer = await getJson('first-run', {}).catch(() => null);
      if (stopped) return;
      if (answer?.kind === 'ok') {
        setProblem(null);
        setFirst(answer.data);
        if (answer.data.firstEvent && !answered.current) setRecordedBefore(true);
        else if (answer.data.firstEvent) setTookMs((took) => took ?? performance.now() - opened.current);
        answered.current = true;
        // After the first event, keep asking for a while: the first tool call often follows the handshake.
        if (answer.data.firstToolCall) return;
      } else if (answer) setProblem(answer.message);
      timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    const ticker = setInterval(() => setWaitedS(Math.round((performance.now() - opened.current) / 1000)), 1000);
    return () => {
      stopped = true;
      clearTimeout(timer);
      clearInterval(ticker);
    };
  }, []);

  const makeKey = async () => {
    setKey({ state: 'making' });
    try {
      const res = await fetch(`${API_BASE}/api/keys`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ role: 'member', label: 'first run' }) });
      const body = (await res.json().catch(() => ({}))) as { key?: string; error?: string };
      if (res.ok && body.key) setKey({ state: 'made', key: body.key });
      else setKey({ state: 'failed', message: body.error ?? `the key could not be made (${res.status})` });
    } catch {
      setKey({ state: 'failed', message: 'cannot reach the server' });
    }
  };

  const endpoint = API_BASE || location.origin;
  const command = setupCommand(os, client, location.origin, team ? { endpoint, key: key.state === 'made' ? key.key : '<your key>' } : null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  const call = first?.firstToolCall ?? first?.firstInteraction ?? null;

  return (
    <div class="view first-run" data-view="first-run">
      <h1>{first?.firstEvent ? 'First insight' : 'Set up Kilometers'}</h1>
      {first?.firstEvent ? (
        <Panel title="Recorded" id="first-insight">
          <p class="first-took" role="status">
            {recordedBefore ? (
              <>
                Your first event arrived at <strong>{new Date(first.firstEvent.receivedAt).toLocaleString()}</strong>, before this page opened, from <strong>{first.firstEvent.server}</strong>.
              </>
            ) : (
              <>
                Your first event arrived <strong>{fmtMs(tookMs)}</strong> after this page opened, from <strong>{first.firstEvent.server}</strong>.
              </>
            )}
          </p>
          {call ? (
            <dl class="first-facts">
              <div><dt>Server</dt><dd>{call.server}</dd></div>
              <div><dt>{call.method === 'tools/call' ? 'Tool' : 'Method'}</dt><dd class="mono">{call.target ?? call.method}</dd></div>
              <div><dt>Tokens in / out</dt><dd>{fmtInt(call.tokensIn)} / {fmtInt(call.tokensOut)}</dd></div>
              <div><dt>Cost</dt><dd>{fmtUsd(call.costUsd)}</dd></div>
              <div><dt>Latency</dt><dd>{fmtMs(call.latencyMs)}</dd></div>
              <div>
                <dt>Findings</dt>
                <dd>
                  {call.findingCount === 0 ? 'none' : call.findings.map((finding) => <span key={`${finding.ruleId} ${finding.path}`}><SeverityBadge severity={finding.severity} /> {finding.ruleId} </span>)}
                  {call.findingCount > call.findings.length ? ` and ${call.findingCount - call.findings.length} more` : null}
                </dd>
              </div>
            </dl>
          ) : (
            <p class="muted">The session started ({first.firstEvent.type}); its first call will show here.</p>
          )}
          <p>
            <Link href={hrefTo(`/journey/${encodeURIComponent((call ?? first.firstEvent).sessionId)}`)}>See the whole session</Link> · <Link href={hrefTo('/')}>Open the dashboard</Link>
          </p>
        </Panel>
      ) : null}
      <Panel title={first?.firstEvent ? 'Set up another machine' : '1. Run this in a terminal'} id="first-command">
        <div class="inline-fields">
          <label class="field" for="first-os">
            Your OS
            <select id="first-os" value={os} onChange={(e) => setOs((e.target as HTMLSelectElement).value as Os)}>
              {OSES.map((o) => <option key={o.id} value={o.id}>{o.title}</option>)}
            </select>
          </label>
          <label class="field" for="first-client">
            Your MCP client
            <select id="first-client" value={client} onChange={(e) => setClient((e.target as HTMLSelectElement).value)}>
              {CLIENTS.map((c) => <option key={c.id} value={c.id}>{c.title}</option>)}
            </select>
          </label>
        </div>
        {team && account?.role === 'viewer' ? (
          <p class="muted">A viewer reads the dashboard and ships nothing: ask an owner or admin of {account?.orgId} for a key of role member, and put it in the command.</p>
        ) : team ? (
          <p>
            {key.state === 'made' ? (
              <span>Your API key is in the command (shown this once; <code>km login</code> keeps it).</span>
            ) : (
              <button type="button" onClick={makeKey} disabled={key.state === 'making'}>
                {key.state === 'making' ? 'Making your key…' : 'Make my API key'}
              </button>
            )}
            {key.state === 'failed' ? <span role="alert" class="bad-text"> {key.message}</span> : null}
          </p>
        ) : null}
        <pre class="first-cmd" aria-label="The command"><code>{command}</code></pre>
        <p>
          <button type="button" onClick={copy}>Copy the command</button> <span role="status" class="muted small">{copied ? 'Copied.' : ''}</span>
        </p>
        <p class="muted small">Then restart your MCP client (or reload its servers) and use any tool: the call shows here.</p>
      </Panel>
      {first?.firstEvent ? null : (
        <Panel title="2. Waiting for your first event" id="first-wait">
          <p role="status" aria-live="polite" class="first-waiting">
            <span class="spinner" aria-hidden="true" />
            Listening… {waitedS} s since this page opened.
          </p>
          {problem ? <p class="bad-text">{problem}</p> : null}
        </Panel>
      )}
    </div>
  );
}
