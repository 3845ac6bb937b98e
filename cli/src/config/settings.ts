import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pidAlive } from '../pid-alive';

/** The settings km reads from its environment, with local defaults (documented in local.settings.sample.json). */
export interface Settings {
  home: string;
  /** Where batches go; null means "the local km serve, wherever serve.json says it listens". */
  endpoint: string | null;
  apiKey: string | null;
  orgId: string;
  /** False when no KM_ORG and no `km login` named the org: orgId is then the local default, and a key's org wins when shipping. */
  orgConfigured: boolean;
  debug: boolean;
  maxSpoolBytes: number;
  /** How far the observer may fall behind the forwarding, in bytes: past half previews are dropped, past it observations. */
  observerBacklogBytes: number;
  /** How long a server may take to exit after the client's first signal before km kills it (ms). */
  serverKillAfterMs: number;
}

export const DEFAULT_PORT = 7777;
const DEFAULT_MAX_SPOOL_BYTES = 256 * 1024 * 1024;
// The observer makes about 1 MB of small-call traffic a second on two cores: 4 MB behind it still ends within the
// wrapper's 5 s exit budget (wrap/run.ts); a larger backlog would leave the session's end to a replay by the next km.
const DEFAULT_OBSERVER_BACKLOG_BYTES = 4 * 1024 * 1024;
// Under the clients' own deadline: the MCP SDK sends SIGKILL 2 s after its SIGTERM, and km must kill the server first.
const DEFAULT_SERVER_KILL_AFTER_MS = 1000;

/** Saved by `km login`: the cloud endpoint and its key, so MCP configs need no secrets. */
interface LoginFile {
  endpoint?: string;
  apiKey?: string;
  orgId?: string;
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

export function kmHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.KM_HOME && env.KM_HOME.trim() !== '' ? env.KM_HOME : join(homedir(), '.km');
}

/**
 * Creates KM_HOME and missing parents, one level at a time. Not mkdirSync's recursive mode: on some
 * filesystems (e.g. /proc) it never returns, and a wrapper must fail, not hang.
 */
export function ensureHome(home: string, depth = 0): void {
  if (existsSync(home)) return;
  try {
    mkdirSync(home, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || depth > 32 || dirname(home) === home) throw err;
    ensureHome(dirname(home), depth + 1);
    mkdirSync(home, { mode: 0o700 });
  }
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const home = kmHome(env);
  const login = readJson<LoginFile>(join(home, 'login.json')) ?? {};
  const maxSpool = Number(env.KM_MAX_SPOOL_BYTES);
  const backlog = Number(env.KM_OBSERVER_BACKLOG_BYTES);
  const killAfter = Number(env.KM_SERVER_KILL_AFTER_MS);
  return {
    home,
    endpoint: env.KM_ENDPOINT?.replace(/\/+$/, '') || login.endpoint || null,
    apiKey: env.KM_API_KEY || login.apiKey || null,
    orgId: env.KM_ORG || login.orgId || 'local',
    orgConfigured: Boolean(env.KM_ORG || login.orgId),
    debug: Boolean(env.KM_DEBUG && env.KM_DEBUG !== '0'),
    maxSpoolBytes: Number.isFinite(maxSpool) && maxSpool > 0 ? maxSpool : DEFAULT_MAX_SPOOL_BYTES,
    observerBacklogBytes: Number.isFinite(backlog) && backlog > 0 ? backlog : DEFAULT_OBSERVER_BACKLOG_BYTES,
    serverKillAfterMs: Number.isFinite(killAfter) && killAfter > 0 ? killAfter : DEFAULT_SERVER_KILL_AFTER_MS,
  };
}

/**
 * The org events were stamped with because none was set (no KM_ORG, no `km login`): the shipper sends them as the
 * org of the key it ships with (GET /api/whoami), which is the tenant the user meant. null when the org was set.
 */
export const placeholderOrgOf = (settings: Pick<Settings, 'orgId' | 'orgConfigured'>): string | null => (settings.orgConfigured ? null : settings.orgId);

/** The key km serve made for this machine (KM_HOME/api-key): it stays when serve stops, and serve uses it again. */
function localApiKey(home: string): string | null {
  try {
    return readFileSync(join(home, 'api-key'), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** The local stack km serve announced in KM_HOME: its URL and the key it made for this machine. */
export function localStack(home: string): { url: string; apiKey: string | null; pid: number | null } | null {
  const serve = readJson<{ url?: string; pid?: unknown }>(join(home, 'serve.json'));
  if (!serve?.url) return null;
  // A serve.json a km serve killed with -9 (or a reboot) left behind: nothing of this KM_HOME listens there.
  if (typeof serve.pid === 'number' && !pidAlive(serve.pid)) return null;
  return { url: serve.url, apiKey: localApiKey(home), pid: typeof serve.pid === 'number' ? serve.pid : null };
}

/** Where to ship and with which key; notRunning: why nothing is to be sent there now. */
export interface Target {
  endpoint: string;
  apiKey: string | null;
  /**
   * No explicit endpoint and no km serve running for this KM_HOME (no serve.json): the endpoint is only km serve's
   * default address, where another KM_HOME's km serve may listen, and must not get this one's key or events.
   */
  notRunning?: string;
}

/**
 * Where to send a request now: resolveTarget's, or a thrown message when no km serve runs for KM_HOME (this KM_HOME's
 * key must not go to another's km serve on the default port, nor its answer be taken for this one's).
 */
export function runningTarget(settings: Settings): { endpoint: string; apiKey: string | null } {
  const target = resolveTarget(settings);
  if (target.notRunning) throw new Error(`${target.notRunning}: start it with km serve, or km login to a shared stack`);
  return target;
}

/**
 * Where to ship and with which key: explicit settings first, then the local km serve (serve.json, re-read each time,
 * so a restart on another port is found), else its default address, marked notRunning.
 */
export function resolveTarget(settings: Settings): Target {
  if (settings.endpoint) return { endpoint: settings.endpoint, apiKey: settings.apiKey };
  const local = localStack(settings.home);
  if (local) return { endpoint: local.url, apiKey: settings.apiKey ?? local.apiKey };
  return {
    endpoint: `http://127.0.0.1:${DEFAULT_PORT}`,
    apiKey: settings.apiKey ?? localApiKey(settings.home),
    notRunning: `km serve is not running for ${settings.home} (${existsSync(join(settings.home, 'serve.json')) ? 'its serve.json is of a km serve that is gone: it stopped without cleaning up (killed, or the machine restarted)' : 'no serve.json there'})`,
  };
}
