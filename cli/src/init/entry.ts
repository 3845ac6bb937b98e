import { basename } from 'node:path';
import { isObject } from '../is-object';
import { HEADER_ENV_PREFIX } from '../invocation';

/**
 * One server entry of a client's config, wrapped (issue 13): `command` becomes km, and the old command line goes
 * after `--` with the entry's name as `--name`, so the dashboard shows the name the user gave it. Everything else
 * in the entry (env, type, cwd, the client's own fields) stays as it is.
 */
export interface Launcher {
  /** `km` when it is on the PATH, else node. */
  command: string;
  /** Before km's own arguments: empty for `km`, the path of km's bin script for node. */
  argsPrefix: string[];
}

export interface WrappedFields {
  command: string;
  args: string[];
  /** A remote entry's own fields (url, headers, type: http), replaced by the km command line. */
  remove?: string[];
  /** Only when km needs variables the client would not pass (KM_HOME and the endpoint, if not the defaults). */
  env?: Record<string, string>;
}

export type EntryPlan = { kind: 'wrap'; fields: WrappedFields } | { kind: 'skip'; reason: string };

const KM_NAMES = new Set(['km', 'km.cmd', 'km.exe', 'km.js']);
/** The reason an entry that runs km already is kept as it is. */
export const ALREADY_WRAPPED = 'already wrapped';

/** Whether an entry already runs km: by name, or node running km's bin script. */
export function runsKm(command: string, args: unknown[]): boolean {
  if (KM_NAMES.has(basename(command).toLowerCase())) return true;
  const first = args[0];
  return typeof first === 'string' && /(^|[\\/])km\.js$/.test(first);
}

/** sseUrl: the client reads `url` as the older HTTP+SSE transport (Gemini CLI), which km --url does not speak. */
export function planEntry(name: string, entry: unknown, launcher: Launcher, kmEnv: Record<string, string>, sseUrl = false): EntryPlan {
  if (!isObject(entry)) return { kind: 'skip', reason: 'not a server entry (an object)' };
  const remote = ['httpUrl', 'serverUrl', 'url'].find((key) => typeof entry[key] === 'string');
  if (typeof entry.command !== 'string' || entry.command.trim() === '') {
    if (!remote) return { kind: 'skip', reason: 'it has no command' };
    if (entry.type === 'sse' || (sseUrl && remote === 'url')) return { kind: 'skip', reason: 'a remote server over HTTP+SSE (the older transport): km --url speaks Streamable HTTP only' };
    return planRemote(name, entry, remote, launcher, kmEnv);
  }
  const args = entry.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) return { kind: 'skip', reason: 'its args are not a list of strings' };
  if (runsKm(entry.command, args)) return { kind: 'skip', reason: ALREADY_WRAPPED };
  const fields: WrappedFields = { command: launcher.command, args: [...launcher.argsPrefix, '--name', name, '--', entry.command, ...args] };
  return { kind: 'wrap', fields: withEnv(fields, entry, kmEnv) };
}

/**
 * A remote entry becomes a stdio one running `km --url` (which speaks Streamable HTTP upstream and signs in with
 * OAuth itself); its headers go into the entry's env as KM_HEADER_1, KM_HEADER_2, ... (headersFromEnv): on the
 * command line, a token would show in `ps` to every user of the machine, and clients print it (`claude mcp list`).
 * Servers of the older HTTP+SSE transport are left alone.
 */
function planRemote(name: string, entry: Record<string, unknown>, key: string, launcher: Launcher, kmEnv: Record<string, string>): EntryPlan {
  const headers = isObject(entry.headers) ? Object.entries(entry.headers) : [];
  if (headers.some(([, value]) => typeof value !== 'string')) return { kind: 'skip', reason: 'its headers are not all strings' };
  const headerEnv = Object.fromEntries(headers.map(([header, value], i) => [`${HEADER_ENV_PREFIX}${i + 1}`, `${header}: ${value as string}`]));
  const fields: WrappedFields = {
    command: launcher.command,
    args: [...launcher.argsPrefix, '--name', name, '--url', entry[key] as string],
    remove: [key, 'headers', ...(entry.type === 'http' || entry.type === 'streamable-http' ? ['type'] : [])].filter((field) => field in entry),
  };
  return { kind: 'wrap', fields: withEnv(fields, entry, { ...headerEnv, ...kmEnv }) };
}

function withEnv(fields: WrappedFields, entry: Record<string, unknown>, kmEnv: Record<string, string>): WrappedFields {
  const env = isObject(entry.env) ? entry.env : {};
  const missing = Object.entries(kmEnv).filter(([key]) => env[key] === undefined);
  if (missing.length > 0) fields.env = { ...(env as Record<string, string>), ...Object.fromEntries(missing) };
  return fields;
}
