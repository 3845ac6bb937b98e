import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeReachability, probeEndpoint } from '../config/endpoint-probe';
import { ensureHome, kmHome, loadSettings, resolveTarget, type Settings } from '../config/settings';
import { clientPath, which } from '../config/which';
import { clientConfigs, type ClientConfig, type Places } from '../init/clients';
import { serverEntries } from '../init/config-edit';
import { runsKm } from '../init/entry';
import { Spool } from '../spool';
import { deadJournals } from '../wrap/journal';
import { describeStartFailure, recentStartFailures, type StartFailure } from './start-failures';
import { parseInvocation } from '../invocation';
import { serverName } from '../config/attribution';
import { isObject } from '../is-object';

/**
 * `km doctor`'s checks (issue 13): each says ok, warn or fail, what it saw, and what to do about it. They only
 * read (KM_HOME is created if missing, as any km command would), so doctor is safe to run anywhere.
 */
export interface Check {
  status: 'ok' | 'warn' | 'fail';
  what: string;
  fix?: string;
}

const silent = { info() {}, warn() {}, error() {} };

export function nodeCheck(version = process.versions.node): Check {
  const major = Number(version.split('.')[0]);
  return major >= 20 ? { status: 'ok', what: `Node.js ${version}` } : { status: 'fail', what: `Node.js ${version}`, fix: 'km needs Node.js 20 or later' };
}

/**
 * km serve's database: better-sqlite3, a native module an install may have skipped building (npm's script policy,
 * --ignore-scripts, no compiler). Wrapping never needs it, so only a warning.
 */
export function sqliteCheck(load: () => unknown = () => require('better-sqlite3')): Check {
  try {
    const Database = load() as new (path: string) => { close(): void };
    new Database(':memory:').close();
    return { status: 'ok', what: "km serve's database (better-sqlite3) loads" };
  } catch (error) {
    const why = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 200);
    return { status: 'warn', what: `km serve's database (better-sqlite3) does not load on Node ${process.versions.node}: ${why}`, fix: 'reinstall km so that it builds: npm install -g --allow-scripts=better-sqlite3 @kilometers/km (wrapping works without it; km serve does not)' };
  }
}

export function homeCheck(settings: Settings, env: NodeJS.ProcessEnv = process.env): Check {
  const from = env.KM_HOME ? 'KM_HOME' : 'the default';
  try {
    ensureHome(settings.home);
    accessSync(settings.home, constants.W_OK);
    return { status: 'ok', what: `KM_HOME ${settings.home} (${from}), writable` };
  } catch (err) {
    return { status: 'fail', what: `KM_HOME ${settings.home} (${from}) cannot be written: ${(err as Error).message}`, fix: 'point KM_HOME at a directory you own' };
  }
}

export async function endpointCheck(settings: Settings): Promise<Check> {
  const { endpoint, apiKey, notRunning } = resolveTarget(settings);
  if (notRunning) return { status: 'warn', what: `endpoint: none, ${notRunning}`, fix: 'start the local stack: km serve (events wait in the spool until then)' };
  const reach = await probeEndpoint(endpoint, apiKey, settings.orgConfigured ? settings.orgId : null);
  const what = `endpoint ${endpoint}: reachable ${describeReachability(reach)}`;
  if (reach.kind === 'ok') return { status: 'ok', what };
  if (reach.kind === 'key-refused') return { status: 'fail', what, fix: 'log in again with a key of this org: km login --endpoint URL --key KEY' };
  if (reach.kind === 'other-org') return { status: 'fail', what, fix: `set KM_ORG=${reach.keyOrg} (or unset it), or log in with a key of "${reach.org}"; then km flush --retry-refused` };
  if (reach.kind === 'cannot-ship') return { status: 'fail', what, fix: 'every session is refused and set aside: log in with a key of role member or above (km login --endpoint URL --key KEY)' };
  const local = settings.endpoint === null;
  return { status: 'warn', what, fix: local ? 'start the local stack: km serve (events wait in the spool until then)' : 'check the endpoint (km login); events wait in the spool until it answers' };
}

/**
 * Servers km could not start lately (their command not found): a client config to fix when a config found names
 * the server; else a one-off run (`km -- cmd` by hand, a pipe into km), which no client will start again.
 */
export function startFailureChecks(failures: StartFailure[], configured: ReadonlySet<string>): Check[] {
  return failures.map((f) =>
    configured.has(f.server)
      ? { status: 'fail', what: `server ${describeStartFailure(f)}`, fix: `fix the command of "${f.server}" in your MCP client config (km doctor checks each entry below)` }
      : { status: 'warn', what: `server ${describeStartFailure(f)}: a one-off run, not in any MCP client config found` },
  );
}

export async function recentStartFailureChecks(settings: Settings, places: Places): Promise<Check[]> {
  const target = resolveTarget(settings);
  if (target.notRunning) return []; // nothing to ask (endpointCheck says so)
  return startFailureChecks((await recentStartFailures(target)) ?? [], configuredServers(places));
}

/** The names the configs found give servers: each entry's own, and for a wrapped entry the name km records it by. */
export function configuredServers(places: Places): Set<string> {
  const names = new Set<string>();
  for (const config of clientConfigs(places)) {
    if (!existsSync(config.path)) continue;
    const found = serverEntries(config, readFileSync(config.path, 'utf8'));
    if ('problem' in found) continue;
    for (const { name, entry } of found.entries) {
      names.add(name);
      if (!isObject(entry) || typeof entry.command !== 'string') continue;
      const args = Array.isArray(entry.args) ? entry.args.filter((a): a is string => typeof a === 'string') : [];
      if (!runsKm(entry.command, args)) continue;
      const wrap = parseInvocation(/(^|[\\/])km\.js$/.test(args[0] ?? '') ? args.slice(1) : args);
      if (wrap.kind === 'wrap') names.add(serverName(wrap.name, wrap.command, wrap.args));
    }
  }
  return names;
}

export function spoolCheck(settings: Settings): Check[] {
  const checks: Check[] = [];
  const spool = new Spool(settings.home, settings.maxSpoolBytes, silent);
  const refused = spool.refused();
  if (refused.length > 0) checks.push({ status: 'fail', what: `${refused.length} spool file(s) set aside: ${refused[0]!.reason}`, fix: 'fix the key (km login), then km flush --retry-refused' });
  // Events the API refused for good (a bad field) are never shipped again: say so, or the session seems lost.
  const rejected = spool.quarantined();
  if (rejected) checks.push({ status: 'warn', what: `${rejected.events} event(s) the API refused for good, kept in ${join(settings.home, 'spool', 'rejected.jsonl')}: ${rejected.reason}`, fix: 'read the reason there (each line holds the event); km does not send them again' });
  const journals = deadJournals(settings.home).length;
  if (journals > 0) checks.push({ status: 'warn', what: `${journals} session(s) of killed km processes wait to be replayed`, fix: 'km flush' });
  if (checks.length === 0) checks.push({ status: 'ok', what: 'spool: nothing set aside, no killed session waiting' });
  return checks;
}

/**
 * Each client config found, each server entry in it: wrapped, its commands found, recording where km looks.
 * shellPath is this shell's PATH; entries are checked against what a client searches (clientPath: without npx's
 * node_modules/.bin directories).
 */
export function clientChecks(places: Places, settings: Settings, shellPath = process.env.PATH ?? '', env: NodeJS.ProcessEnv = process.env): Check[] {
  const pathVar = clientPath(shellPath);
  const checks: Check[] = [];
  for (const config of clientConfigs(places)) {
    if (!existsSync(config.path)) continue;
    const found = serverEntries(config, readFileSync(config.path, 'utf8'));
    if ('problem' in found) {
      checks.push({ status: 'fail', what: `${config.label}: ${found.problem}`, fix: 'fix the file: the client cannot read it either' });
      continue;
    }
    for (const { name, entry } of found.entries) checks.push(entryCheck(config, name, entry, settings, { pathVar, shellPath }, env));
  }
  if (checks.length === 0) checks.push({ status: 'warn', what: 'no MCP client config with servers found', fix: 'add servers in your MCP client, then km init' });
  return checks;
}

function entryCheck(config: ClientConfig, name: string, entry: unknown, settings: Settings, paths: { pathVar: string; shellPath: string }, shellEnv: NodeJS.ProcessEnv): Check {
  const { pathVar, shellPath } = paths;
  const label = `${config.label}: ${name}`;
  if (!isObject(entry) || typeof entry.command !== 'string') {
    const remote = isObject(entry) && ['url', 'httpUrl', 'serverUrl'].some((k) => typeof entry[k] === 'string');
    return remote
      ? { status: 'warn', what: `${label} is a remote server the client calls itself (not recorded)`, fix: `km init --server ${name} routes it through km --url` }
      : { status: 'warn', what: `${label} is not a server entry km can run (no command, no url)` };
  }
  const args = Array.isArray(entry.args) ? entry.args.filter((a): a is string => typeof a === 'string') : [];
  if (!runsKm(entry.command, args)) {
    const found = which(entry.command, pathVar);
    // km init keeps a project's shared file free of this machine's paths: its fix is km's, as init says.
    const machineOnly = config.shared && (which('km', pathVar) === null || resolve(settings.home) !== resolve(kmHome({})));
    const fix = machineOnly ? `put km on the PATH (npm i -g) and leave KM_HOME at its default, then km init --server ${name}: km init writes no machine's path into a project file the team shares` : `km init --server ${name}`;
    return { status: 'warn', what: `${label} is not wrapped (not recorded)${found ? '' : `, and its command "${entry.command}" is not on the PATH`}`, fix };
  }
  // `km` itself, or node running km's bin script (what km init writes when no km is on the PATH).
  const viaNode = typeof args[0] === 'string' && /(^|[\\/])km\.js$/.test(args[0]);
  const kmFound = which(entry.command, pathVar) !== null && (!viaNode || existsSync(args[0]!));
  if (!kmFound && !viaNode && which(entry.command, shellPath) !== null) {
    return { status: 'fail', what: `${label}: "${entry.command}" is found only in a node_modules/.bin that npx or npm put on this shell's PATH; the client starts servers with its own PATH and will not find it`, fix: `npm i -g the km package, or run node <path to km>/cli/bin/km.js init --server ${name} (not under npx)` };
  }
  if (!kmFound) return { status: 'fail', what: `${label}: km is not found where the entry starts it (${[entry.command, args[0]].filter(Boolean).join(' ')})`, fix: `install km on the PATH, then km init --server ${name}` };
  const dashes = args.indexOf('--');
  const server = dashes === -1 ? undefined : args[dashes + 1];
  if (server && !which(server, pathVar)) return { status: 'fail', what: `${label}: the server's command "${server}" is not found`, fix: 'install it, or fix the command in the config' };
  const env = isObject(entry.env) ? entry.env : {};
  const home = typeof env.KM_HOME === 'string' ? resolve(env.KM_HOME) : kmHome({});
  if (home !== resolve(settings.home)) {
    return { status: 'warn', what: `${label} records into ${home}, not this KM_HOME (${settings.home})`, fix: `km init --server ${name} writes this KM_HOME into the entry, or run km serve with KM_HOME=${home}` };
  }
  const lost = droppedSettings(config, env, settings, shellEnv);
  if (lost) return { status: 'warn', what: `${label}: wrapped, but ${lost}`, fix: 'km login --key KEY saves the key in KM_HOME/login.json, where km finds it without the environment' };
  return { status: 'ok', what: `${label}: wrapped${server ? `, runs ${server}` : ''}` };
}

/**
 * Gemini CLI (0.61, tried with km) starts servers without the shell's variables whose names look like secrets: a
 * KM_API_KEY exported in the shell never reaches km, which then ships without it (to a loopback km serve, as its
 * local org). An entry's own env is the user's explicit choice and is not second-guessed. What goes missing, or null.
 */
function droppedSettings(config: ClientConfig, entryEnv: Record<string, unknown>, settings: Settings, shellEnv: NodeJS.ProcessEnv): string | null {
  if (config.client !== 'gemini' || !shellEnv.KM_API_KEY || typeof entryEnv.KM_API_KEY === 'string') return null;
  const withoutKey = loadSettings({ ...shellEnv, KM_API_KEY: undefined });
  if (withoutKey.apiKey === settings.apiKey) return null; // km login saved the same key
  return 'Gemini CLI does not pass KM_API_KEY (a variable named like a secret) to the servers it starts, so this one ships without the key set here';
}

