import { Command, InvalidArgumentError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RebuildProgress } from '@km/functions/dist/host/rebuild';
import { readModelsNamed } from '@km/functions/dist/read-models';
import { sqliteUnavailable } from '@km/functions/dist/host/sqlite-missing';
import { DEFAULT_PORT, ensureHome, loadSettings } from '../config/settings';
import { fileLogger } from '../log';
import { replayJournalsWhileServing } from './serve-journals';
import { pidAlive } from '../pid-alive';

/**
 * The embedded host, loaded when km serve runs: it needs SQLite (better-sqlite3, a native module), and nothing else
 * km does may depend on it (an install without it, or with one built for another Node, still wraps, inits, ships).
 */
function embedded() {
  try {
    return {
      ...(require('@km/functions/dist/host/embedded-host') as typeof import('@km/functions/dist/host/embedded-host')),
      ...(require('@km/functions/dist/host/embedded-stack') as typeof import('@km/functions/dist/host/embedded-stack')),
    };
  } catch (err) {
    throw sqliteUnavailable(err) ?? err;
  }
}

/** Where the built dashboard is: beside the bundle in a packed CLI, in the workspace in a clone. */
function dashboardDir(): string | undefined {
  const candidates = [join(__dirname, 'dashboard'), join(__dirname, '..', '..', '..', 'dashboard', 'dist')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

/** The km package this runs from (cli/, or the installed package): its bundle is two levels below it. */
function packageDir(): string | undefined {
  const dir = join(__dirname, '..', '..');
  return existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'km.js')) ? dir : undefined;
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
  if (!pidAlive(serve.pid)) return; // a leftover of a serve that died
  throw new Error(`km serve is already running for ${home} at ${serve.url ?? 'an unknown address'} (pid ${serve.pid}); stop it first, or give this one its own KM_HOME`);
}

/** --port of km serve and of km demo (which starts one). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('a port is a number from 0 to 65535');
  return port;
}

/** --rebuild cost,risk or all: checked here, so a typo is refused before anything starts. */
function parseRebuild(value: string): string[] {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name.length > 0);
  try {
    readModelsNamed(names.length > 0 ? names : ['']);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return names;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

function describeProgress(p: RebuildProgress): string {
  const percent = p.total > 0 ? Math.min(100, (100 * p.folded) / p.total) : 100;
  const eta = p.etaSeconds === null ? '' : `, ETA ${Math.ceil(p.etaSeconds)} s`;
  return `km serve: rebuilding ${p.models.join(', ')}: ${percent.toFixed(0)}% (${count(p.folded)} of ${count(p.total)} events), ${count(p.eventsPerSecond)} events/s${eta}`;
}

/** A line redrawn in place on a terminal (at most 4 times a second); elsewhere a line every 10 seconds. */
function progressPrinter(out: NodeJS.WriteStream): { show(p: RebuildProgress): void; done(): void } {
  let lastMs = 0;
  let last: RebuildProgress | null = null;
  let printed: RebuildProgress | null = null;
  return {
    show(p) {
      last = p;
      const now = Date.now();
      if (now - lastMs < (out.isTTY ? 250 : 10_000)) return;
      lastMs = now;
      printed = p;
      out.write(out.isTTY ? `\r\x1b[K${describeProgress(p)}` : `${describeProgress(p)}\n`);
    },
    /** The last figures, ending the redrawn line on a terminal; elsewhere only when not printed already. */
    done() {
      if (!last) return;
      if (out.isTTY) out.write(`\r\x1b[K${describeProgress(last)}\n`);
      else if (last !== printed) out.write(`${describeProgress(last)}\n`);
    },
  };
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('Run the embedded stack: ingest, projectors, query API and dashboard, on this machine only')
    .option('-p, --port <port>', 'port to listen on', parsePort, DEFAULT_PORT)
    .option('--host <host>', 'interface to bind (keep 127.0.0.1 unless you know why)', '127.0.0.1')
    .option('--rebuild <models>', 'replay the log into fresh read models (comma-separated names, or all) while serving the old ones, then switch', parseRebuild)
    .action(async (options: { port: number; host: string; rebuild?: string[] }) => {
      const settings = loadSettings();
      ensureHome(settings.home);
      refuseSecondServe(settings.home);
      const logger = fileLogger(settings.home, true, `km-serve[${process.pid}]`);
      const progress = progressPrinter(process.stderr);
      const host = await embedded().startEmbeddedHost({
        home: settings.home,
        port: options.port,
        hostname: options.host,
        dashboardDir: dashboardDir(),
        packageDir: packageDir(),
        logger,
        ...(options.rebuild ? { rebuild: options.rebuild, onRebuildProgress: progress.show } : {}),
      });
      const journals = replayJournalsWhileServing(settings, logger);
      // The URL is for this machine's clients; bound to every interface, that is not all it listens on.
      const everywhere = options.host === '0.0.0.0' || options.host === '::' ? `bound to ${options.host}, every interface, where every request needs an API key; ` : '';
      process.stdout.write(`km serve: listening on ${host.url} (${everywhere}data in ${settings.home}); dashboard at ${host.url}/\n`);
      void host.rebuilt?.then((outcome) => {
        progress.done();
        const what = options.rebuild!.join(', ');
        if (outcome === 'done') process.stderr.write(`km serve: rebuilt ${what}; serving the rebuilt read models now\n`);
        if (outcome === 'failed') process.stderr.write(`km serve: rebuilding ${what} failed (see km.log); still serving the old read models\n`);
      });
      let closing = false;
      const stop = () => {
        if (closing) return;
        closing = true;
        journals.stop();
        void host.close().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
