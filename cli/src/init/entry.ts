import { basename } from 'node:path';

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
  /** Only when km needs variables the client would not pass (KM_HOME and the endpoint, if not the defaults). */
  env?: Record<string, string>;
}

export type EntryPlan = { kind: 'wrap'; fields: WrappedFields } | { kind: 'skip'; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const KM_NAMES = new Set(['km', 'km.cmd', 'km.exe', 'km.js']);

/** Whether an entry already runs km: by name, or node running km's bin script. */
export function runsKm(command: string, args: unknown[]): boolean {
  if (KM_NAMES.has(basename(command).toLowerCase())) return true;
  const first = args[0];
  return typeof first === 'string' && /(^|[\\/])km\.js$/.test(first);
}

export function planEntry(name: string, entry: unknown, launcher: Launcher, kmEnv: Record<string, string>): EntryPlan {
  if (!isObject(entry)) return { kind: 'skip', reason: 'not a server entry (an object)' };
  const remote = ['url', 'httpUrl', 'serverUrl'].find((key) => typeof entry[key] === 'string');
  if (typeof entry.command !== 'string' || entry.command.trim() === '') {
    return remote
      ? { kind: 'skip', reason: `a remote server (${remote}): left to the client, whose own OAuth sign-in km --url cannot do yet; to record it, wrap it by hand: km --url URL [--header 'Name: value']` }
      : { kind: 'skip', reason: 'it has no command' };
  }
  const args = entry.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) return { kind: 'skip', reason: 'its args are not a list of strings' };
  if (runsKm(entry.command, args)) return { kind: 'skip', reason: 'already wrapped' };
  const fields: WrappedFields = { command: launcher.command, args: [...launcher.argsPrefix, '--name', name, '--', entry.command, ...args] };
  const env = isObject(entry.env) ? entry.env : {};
  const missing = Object.entries(kmEnv).filter(([key]) => env[key] === undefined);
  if (missing.length > 0) fields.env = { ...(env as Record<string, string>), ...Object.fromEntries(missing) };
  return { kind: 'wrap', fields };
}
