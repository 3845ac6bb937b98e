import { Command, InvalidArgumentError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { DEFAULT_PORT, ensureHome, loadSettings } from '../config/settings';
import { fileLogger } from '../log';

/** Where the built dashboard is: beside the bundle in a packed CLI, in the workspace in a clone. */
function dashboardDir(): string | undefined {
  const candidates = [join(__dirname, 'dashboard'), join(__dirname, '..', '..', '..', 'dashboard', 'dist')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

/**
 * One km serve per KM_HOME: a second one would take over serve.json (where the wrappers look) and remove it on exit,
 * cutting the first one off from every wrapper.
 */
function refuseSecondServe(home: string): void {
  let serve: { url?: string; pid?: number } | null = null;
  try {
    serve = JSON.parse(readFileSync(join(home, 'serve.json'), 'utf8')) as { url?: string; pid?: number };
  } catch {
    return;
  }
  if (!serve?.pid || serve.pid === process.pid) return;
  try {
    process.kill(serve.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return; // a leftover of a serve that died
  }
  throw new Error(`km serve is already running for ${home} at ${serve.url ?? 'an unknown address'} (pid ${serve.pid}); stop it first, or give this one its own KM_HOME`);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('a port is a number from 0 to 65535');
  return port;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('Run the embedded stack: ingest, projectors, query API and dashboard, on this machine only')
    .option('-p, --port <port>', 'port to listen on', parsePort, DEFAULT_PORT)
    .option('--host <host>', 'interface to bind (keep 127.0.0.1 unless you know why)', '127.0.0.1')
    .action(async (options: { port: number; host: string }) => {
      const settings = loadSettings();
      ensureHome(settings.home);
      refuseSecondServe(settings.home);
      const logger = fileLogger(settings.home, true, `km-serve[${process.pid}]`);
      const host = await startEmbeddedHost({ home: settings.home, port: options.port, hostname: options.host, dashboardDir: dashboardDir(), logger });
      process.stdout.write(`km serve: listening on ${host.url} (data in ${settings.home}); dashboard at ${host.url}/\n`);
      let closing = false;
      const stop = () => {
        if (closing) return;
        closing = true;
        void host.close().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
