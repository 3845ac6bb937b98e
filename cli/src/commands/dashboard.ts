import { Command } from 'commander';
import { routeUrl, sessionsRoute } from '@km/shared';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings, localStack } from '../config/settings';

/** The platform's "open this URL" command; null where there is none we know. */
function opener(url: string): { command: string; args: string[] } | null {
  if (process.platform === 'darwin') return { command: 'open', args: [url] };
  // start is a cmd built-in; its first quoted argument is a window title.
  if (process.platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url.replace(/&/g, '^&')] };
  return { command: 'xdg-open', args: [url] };
}

/** Resolves true once the opener started, false when it does not exist (a server, a container, CI). */
function openInBrowser(url: string): Promise<boolean> {
  const how = opener(url);
  if (!how) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(how.command, how.args, { detached: true, stdio: 'ignore', windowsHide: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}

/** `km dashboard`: the local km serve's dashboard in the default browser. km serve itself never opens one. */
export function dashboardCommand(): Command {
  return new Command('dashboard')
    .description("Open the dashboard in the default browser: the local km serve's, or after km login your team's, signed in (prints the URL where none can be opened)")
    .option('--no-open', 'only print the URL')
    .action(async (options: { open: boolean }) => {
      const settings = loadSettings();
      const url = settings.endpoint ? await teamDashboardUrl(settings.endpoint, settings.apiKey) : await localDashboardUrl(settings.home);
      if (options.open && (await openInBrowser(url))) {
        process.stdout.write(`km dashboard: opening ${url.replace(/token=[^&]+/, 'token=…')}\n`);
        return;
      }
      process.stdout.write(options.open ? `km dashboard: no browser opener found here; open ${url}\n` : `${url}\n`);
    });
}

/**
 * A member logged in to a team's stack (km login): the team's dashboard, signed in through a link that works once
 * for two minutes, so the key never sits in a URL or the browser's history. A stack without such links (Azure,
 * behind Static Web Apps' own GitHub sign-in) opens at its front page.
 */
async function teamDashboardUrl(endpoint: string, apiKey: string | null): Promise<string> {
  if (!apiKey) return `${endpoint}/`;
  let res: Response;
  try {
    res = await fetch(`${endpoint}/auth/link`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new Error(`the team's stack at ${endpoint} does not answer (${(error as Error).message}): check km login, or km login --logout for the local km serve`);
  }
  if (res.status === 404 || res.status === 405) return `${endpoint}/`;
  const answer = (await res.json().catch(() => null)) as { url?: unknown; error?: unknown } | null;
  if (res.status === 401) throw new Error(`${endpoint} refused the key km login saved (${String(answer?.error ?? 401)}): run km login --key <key> again`);
  if (!res.ok || typeof answer?.url !== 'string') throw new Error(`${endpoint} answered ${res.status} when asked for a sign-in link`);
  return answer.url;
}

/** The local km serve's dashboard (KM_HOME's serve.json), after checking that it answers. */
async function localDashboardUrl(home: string): Promise<string> {
  const local = localStack(home);
  if (!local) throw new Error(`km serve is not running on ${home} (${existsSync(join(home, 'serve.json')) ? 'its serve.json is of a km serve that is gone' : 'no serve.json there'}): start it with \`km serve\`, then run \`km dashboard\` again.`);
  try {
    await fetch(local.url + routeUrl(sessionsRoute.path, { limit: 1 }), { signal: AbortSignal.timeout(3000) });
  } catch {
    throw new Error(`km serve does not answer at ${local.url} (it may have crashed): start it again with \`km serve\`.`);
  }
  return `${local.url}/`;
}
