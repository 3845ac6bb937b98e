import { Command } from 'commander';
import { routeUrl, sessionsRoute } from '@km/shared';
import { spawn } from 'node:child_process';
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
    .description("Open the running km serve's dashboard in the default browser (prints the URL where none can be opened)")
    .option('--no-open', 'only print the URL')
    .action(async (options: { open: boolean }) => {
      const settings = loadSettings();
      const local = localStack(settings.home);
      if (!local) throw new Error(`km serve is not running on ${settings.home} (no serve.json there): start it with \`km serve\`, then run \`km dashboard\` again.`);
      try {
        await fetch(local.url + routeUrl(sessionsRoute.path, { limit: 1 }), { signal: AbortSignal.timeout(3000) });
      } catch {
        throw new Error(`km serve does not answer at ${local.url} (it may have crashed): start it again with \`km serve\`.`);
      }
      const url = `${local.url}/`;
      if (options.open && (await openInBrowser(url))) {
        process.stdout.write(`km dashboard: opening ${url}\n`);
        return;
      }
      process.stdout.write(options.open ? `km dashboard: no browser opener found here; open ${url}\n` : `${url}\n`);
    });
}
