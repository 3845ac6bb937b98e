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

/** The server's name: --name when `km init` wrote one, else derived from the command (`npx -y @scope/server-x@1` → server-x). */
export function serverName(flag: string | undefined, command: string, args: string[]): string {
  if (flag) return flag.slice(0, 200);
  // A remote server (km --url): its host names it, as the path is mostly /mcp.
  if (/^https?:\/\//i.test(command)) return (URL.canParse(command) ? new URL(command).hostname : 'remote').slice(0, 200);
  const launchers = new Set(['npx', 'pnpx', 'bunx', 'uvx', 'uv', 'node', 'python', 'python3', 'deno', 'bun', 'pipx', 'docker', 'npm', 'pnpm', 'yarn']);
  const words = [command, ...args];
  let pick = basename(command);
  if (launchers.has(pick.replace(/\.(exe|cmd)$/, ''))) {
    const next = words.slice(1).find((w) => !w.startsWith('-') && !['run', 'exec', 'dlx', 'x', 'tool'].includes(w));
    if (next) pick = next;
  }
  const withoutVersion = pick.replace(/(.)@[^/]*$/, '$1');
  return (basename(withoutVersion).replace(/\.(js|mjs|cjs|py|ts)$/, '') || 'server').slice(0, 200);
}
