import { installBuffer } from './browser/buffer';
import { parseEventLines, shiftToRecent } from './demo-events';
import { installDemoFetch } from './demo-fetch';
import { openDemoStack } from './demo-stack';
// Sessions recorded through km from real MCP servers (scripts/record-demo.mjs), bundled with the page.
import recorded from './events.ndjson?raw';

/** The demo opens on the last 7 days, where the spread-out sessions all are (demo-events.ts). */
function defaultToLastWeek(): void {
  const query = new URLSearchParams(location.search);
  if (query.has('range')) return;
  query.set('range', '7d');
  history.replaceState(null, '', `${location.pathname}?${query}`);
}

async function start(): Promise<void> {
  installBuffer();
  defaultToLastWeek();
  installDemoFetch(await openDemoStack(shiftToRecent(parseEventLines(recorded), new Date())));
  // The dashboard itself, unchanged: it finds its API answering in the page.
  await import('../src/main');
}

void start();
