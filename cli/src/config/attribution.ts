import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, join } from 'node:path';
import type { ProjectConfigFile } from './project-config';

/**
 * Who and what a session belongs to. MCP clients start km with their own cwd and environment (often / or the
 * home directory), so each answer has explicit settings first and guesses last (DESIGN.md).
 */

/** The longest project, user or server name an event may carry (shared's envelope schema). */
export const MAX_NAME_LENGTH = 200;

/**
 * A name cut to MAX_NAME_LENGTH (never inside a surrogate pair): a longer KM_PROJECT or KM_USER made the API refuse
 * every event of the session, which the client never saw.
 */
export function fitName(name: string): string {
  if (name.length <= MAX_NAME_LENGTH) return name;
  const cut = name.slice(0, MAX_NAME_LENGTH);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** --project, else KM_PROJECT, else the nearest km.json upward from the cwd, else 'default'. */
export function resolveProject(flag: string | undefined, env: NodeJS.ProcessEnv, file: ProjectConfigFile | null): string {
  if (flag) return flag;
  if (env.KM_PROJECT) return env.KM_PROJECT;
  if (!file) return 'default';
  const named = file.config.project;
  return typeof named === 'string' && named ? named : basename(file.dir) || 'default';
}

/** KM_USER, else git's user.email, else the OS user. Asynchronous: git must not hold up the session start. */
export function resolveUser(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.KM_USER) return Promise.resolve(env.KM_USER);
  const osUser = () => {
    try {
      return userInfo().username || 'unknown';
    } catch {
      return 'unknown';
    }
  };
  return new Promise((resolve) => {
    execFile('git', ['config', '--get', 'user.email'], { timeout: 2000, windowsHide: true }, (err, stdout) => {
      const email = err ? '' : stdout.trim();
      resolve(email || osUser());
    });
  });
}

/** A random id made once per KM_HOME: tells machines apart without sending a hostname. */
export function machineId(home: string): string {
  const path = join(home, 'machine-id');
  try {
    const id = readFileSync(path, 'utf8').trim();
    if (id) return id;
  } catch {
    // first run on this machine
  }
  const id = randomUUID();
  try {
    writeFileSync(path, id + '\n', { mode: 0o600, flag: 'wx' });
    return id;
  } catch {
    // Another km created it at the same moment: use theirs.
    return readFileSync(path, 'utf8').trim() || id;
  }
}

const LAUNCHER_VERBS = new Set(['run', 'exec', 'dlx', 'x', 'tool']);
const CONTAINER_OPTIONS = ['-e', '--env', '--env-file', '-v', '--volume', '--mount', '--name', '-p', '--publish', '--network', '--entrypoint', '-w', '--workdir', '-u', '--user', '-l', '--label', '--platform'];
const PACKAGE_OPTIONS = ['-p', '--package', '--registry', '--cache'];
const UV_OPTIONS = ['--from', '--with', '--python', '--index-url'];
/**
 * The launchers km looks past for the server's name, each with its options whose value is the next word
 * (`docker run -e TOKEN image`, `uvx --from git+https://... tool`): that value is never the server. Per launcher:
 * `python -u` is unbuffered output, not docker's --user.
 */
const LAUNCHERS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries({
    npx: PACKAGE_OPTIONS, pnpx: PACKAGE_OPTIONS, bunx: PACKAGE_OPTIONS, npm: PACKAGE_OPTIONS, pnpm: PACKAGE_OPTIONS, yarn: PACKAGE_OPTIONS,
    uvx: UV_OPTIONS, uv: UV_OPTIONS, pipx: ['--spec', '--python'],
    docker: CONTAINER_OPTIONS, podman: CONTAINER_OPTIONS,
    node: ['-r', '--require', '--import'], deno: [], bun: [], tsx: [], 'ts-node': [], python: [], python3: [],
  }).map(([name, options]) => [name, new Set(options)]),
);
/** File and directory names that say nothing of the server (`.../server-everything/dist/index.js`): the directory above names it. */
const GENERIC_NAMES = new Set(['index', 'main', 'server', 'cli', 'app', 'dist', 'build', 'lib', 'src', 'bin', 'out', '__main__']);

/** The server's name: --name when `km init` wrote one, else derived from the command (`npx -y @scope/server-x@1` → server-x). */
export function serverName(flag: string | undefined, command: string, args: string[]): string {
  if (flag) return fitName(flag);
  // A remote server (km --url): its host names it, as the path is mostly /mcp.
  if (/^https?:\/\//i.test(command)) return fitName(URL.canParse(command) ? new URL(command).hostname : 'remote');
  let pick = command;
  const launcher = LAUNCHERS.get(basename(command).replace(/\.(exe|cmd)$/, ''));
  if (launcher) pick = launchedWord(args, launcher) ?? command;
  // An image or package without its tag or version (`ghcr.io/org/server:1.2`, `server-x@1`, `image@sha256:...`).
  const withoutVersion = pick.replace(/(.)@[^/]*$/, '$1').replace(/(\/[^/:]+):[^/]*$/, '$1');
  const parts = withoutVersion.split(/[\\/]/).map((part) => part.replace(/\.(js|mjs|cjs|py|ts)$/, '')).filter(Boolean);
  // Only a file's path is walked up (a package's own name, @scope/cli, names it).
  const isPath = !withoutVersion.startsWith('@') && (/[\\/]/.test(withoutVersion) || /\.(js|mjs|cjs|py|ts)$/.test(pick));
  while (isPath && parts.length > 1 && GENERIC_NAMES.has(parts[parts.length - 1]!)) parts.pop();
  return fitName(parts[parts.length - 1] || 'server');
}

/** The first word after a launcher that is neither an option, one of its values, nor a verb (`run`, `exec`). */
function launchedWord(args: readonly string[], optionsWithValues: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (optionsWithValues.has(word)) i++;
    else if (!word.startsWith('-') && !LAUNCHER_VERBS.has(word)) return word;
  }
  return undefined;
}
