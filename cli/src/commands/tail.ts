import { Command, InvalidArgumentError } from 'commander';
import { loadSettings, resolveTarget } from '../config/settings';
import { formatInteraction, type TailInteraction, type TailStyle } from '../tail-format';

interface RecentPage {
  interactions: TailInteraction[];
  cursor: string | null;
  missed: boolean;
}

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
      const { endpoint, apiKey } = resolveTarget(loadSettings());
      const style: TailStyle = { color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR, slowMs: options.slow };
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        const fetchPage = (query: URLSearchParams) => fetchRecent(endpoint, apiKey, query, stop.signal);
        const filters = new URLSearchParams({ ...(options.project ? { projectId: options.project } : {}), ...(options.user ? { userId: options.user } : {}) });
        const first = await fetchPage(new URLSearchParams({ ...Object.fromEntries(filters), limit: String(options.lines) }));
        if (first === null) return;
        print(first.interactions, style);
        if (options.once) {
          if (first.interactions.length === 0) {
            const filtered = [...filters.keys()].length > 0;
            process.stderr.write(`km tail: ${filtered ? 'no interactions match these filters' : 'no interactions recorded yet'} at ${endpoint}\n`);
          }
          return;
        }
        let cursor = first.cursor;
        let failing = false;
        while (!stop.signal.aborted) {
          await sleep(options.interval, stop.signal);
          if (stop.signal.aborted) break;
          try {
            const page = await fetchPage(new URLSearchParams({ ...Object.fromEntries(filters), limit: '500', ...(cursor ? { after: cursor } : {}) }));
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

/** One page, or null when Ctrl-C aborted the request. Throws a message a user can act on. */
async function fetchRecent(endpoint: string, apiKey: string | null, query: URLSearchParams, signal: AbortSignal): Promise<RecentPage | null> {
  let response: Response;
  // Ctrl-C or 10 s without an answer, whichever comes first (AbortSignal.any needs Node 20.3).
  const request = new AbortController();
  const abort = () => request.abort();
  const timer = setTimeout(abort, 10_000);
  signal.addEventListener('abort', abort, { once: true });
  try {
    response = await fetch(`${endpoint}/api/interactions/recent?${query}`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {}, signal: request.signal });
  } catch (error) {
    if (signal.aborted) return null;
    throw new Error(`nothing answered at ${endpoint} (${(error as Error).message}): start the local stack with \`km serve\`, or set KM_ENDPOINT`);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
  const body = (await response.json().catch(() => null)) as (RecentPage & { error?: string }) | null;
  if (!response.ok || body === null) {
    const why = body?.error ?? `HTTP ${response.status}`;
    throw new Error(`${endpoint} refused the request: ${why}`);
  }
  return body;
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
