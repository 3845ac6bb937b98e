import { Command, InvalidArgumentError } from 'commander';
import { recentInteractionsRoute, type RouteRequest } from '@km/shared';
import { loadSettings, runningTarget } from '../config/settings';
import { formatInteraction, type TailInteraction, type TailStyle } from '../tail-format';
import { callApi } from './api-client';

const positiveInt = (max: number) => (raw: string) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
  return value;
};

/** Interactions as they happen, read from the API the wrappers ship to (the local km serve by default). */
export function tailCommand(): Command {
  return new Command('tail')
    .description('Show MCP interactions live as they are recorded (Ctrl-C to stop)')
    .option('--once', 'print the most recent interactions and exit')
    .option('-n, --lines <n>', 'how many recent interactions to show first', positiveInt(500), 20)
    .option('--project <id>', 'only this project')
    .option('--user <id>', 'only this user')
    .option('--interval <ms>', 'how often to poll', positiveInt(60_000), 1000)
    .option('--slow <ms>', 'highlight calls at least this slow', positiveInt(3_600_000), 1000)
    .action(async (options: { once?: boolean; lines: number; project?: string; user?: string; interval: number; slow: number }) => {
      const target = runningTarget(loadSettings());
      const style: TailStyle = { color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR, slowMs: options.slow };
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        const fetchPage = (request: RouteRequest<typeof recentInteractionsRoute>) => callApi(recentInteractionsRoute, { request, target, signal: stop.signal });
        const filters = { projectId: options.project, userId: options.user };
        const first = await fetchPage({ ...filters, limit: options.lines });
        if (first === null) return;
        print(first.interactions, style);
        if (options.once) {
          if (first.interactions.length === 0) {
            const filtered = Boolean(options.project ?? options.user);
            process.stderr.write(`km tail: ${filtered ? 'no interactions match these filters' : 'no interactions recorded yet'} at ${target.endpoint}\n`);
          }
          return;
        }
        let cursor = first.cursor;
        let failing = false;
        while (!stop.signal.aborted) {
          await sleep(options.interval, stop.signal);
          if (stop.signal.aborted) break;
          try {
            const page = await fetchPage({ ...filters, limit: 500, after: cursor });
            if (page === null) break;
            if (failing) process.stderr.write('km tail: connected again\n');
            failing = false;
            if (page.missed) process.stderr.write('km tail: more interactions arrived than can be shown; some were skipped\n');
            print(page.interactions, style);
            cursor = page.cursor ?? cursor;
          } catch (error) {
            // The API may restart under a live view: say so once, and keep polling.
            if (!failing) process.stderr.write(`km tail: ${(error as Error).message}; retrying\n`);
            failing = true;
          }
        }
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}

function print(interactions: TailInteraction[], style: TailStyle): void {
  if (interactions.length) process.stdout.write(interactions.map((i) => formatInteraction(i, style)).join('\n') + '\n');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
