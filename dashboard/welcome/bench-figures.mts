import { existsSync, readFileSync } from 'node:fs';
import type { Plugin } from 'vite';

/**
 * The landing page's benchmark section, written at build time from what `npm run bench` measured
 * (bench/results.json): never typed in. A figure the file lacks says "not measured".
 */
export function benchFigures(resultsPath: string): Plugin {
  return {
    name: 'km-bench-figures',
    transformIndexHtml: {
      order: 'pre',
      handler(html, context) {
        if (!context.path.endsWith('/welcome/index.html')) return html;
        return html.replace('<!-- bench-figures -->', renderFigures(readResults(resultsPath)));
      },
    },
  };
}

type Results = Record<string, any>;

function readResults(path: string): Results {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Results;
  } catch {
    return {};
  }
}

interface Figure {
  /** What was measured, in a visitor's words. */
  label: string;
  /** The figure, or null when the bench has not measured it. */
  value: string | null;
  /** How and when. */
  note: string;
}

export function figuresFrom(results: Results): Figure[] {
  const { overhead, ingest, queries, burst } = results;
  const day = (at: unknown) => (typeof at === 'string' ? at.slice(0, 10) : 'an unknown day');
  const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`;
  const num = (x: number) => Math.round(x).toLocaleString('en-US');
  const finite = (...xs: unknown[]) => xs.every((x) => typeof x === 'number' && Number.isFinite(x));
  const worst = Array.isArray(queries?.rows) && queries.rows.length > 0 ? queries.rows.reduce((a: any, b: any) => (b.p99 > a.p99 ? b : a)) : null;
  const burstRow = Array.isArray(burst?.rows) ? burst.rows.find((row: any) => row.mode === 'burst') : null;
  return [
    {
      label: 'Round trip of a tool call through km (median)',
      value: finite(overhead?.km?.p50, overhead?.passthrough?.p50) ? ms(overhead.km.p50) : null,
      note: overhead ? `a bare Node pass-through: ${ms(overhead.passthrough.p50)}; ${num(overhead.callsPerMode)} sequential calls each, ${overhead.cores} cores, ${day(overhead.at)}` : 'bench/run.mjs',
    },
    {
      label: 'Events ingested until every view shows them',
      value: finite(ingest?.eventsPerSecond) ? `${num(ingest.eventsPerSecond)} events/s` : null,
      note: ingest ? `${num(ingest.events)} events into km serve, ${ingest.cores} cores, ${day(ingest.at)}` : 'bench/ingest.mjs',
    },
    {
      label: 'Slowest dashboard query (p99)',
      value: worst && finite(worst.p99) ? ms(worst.p99) : null,
      note: queries && worst ? `every request of every view over ${num(queries.events)} events, ${day(queries.at)}` : 'bench/queries.mjs',
    },
    {
      label: 'Memory of km during a burst of calls (peak RSS)',
      value: burstRow && finite(burstRow.kmPeakRssBytes) ? `${(burstRow.kmPeakRssBytes / 2 ** 20).toFixed(0)} MB` : null,
      note: burstRow ? `${num(burstRow.calls)} sequential calls, ${day(burst.at)}` : 'bench/burst.mjs',
    },
  ];
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderFigures(results: Results): string {
  const items = figuresFrom(results).map(
    ({ label, value, note }) =>
      `<div class="figure"${value === null ? ' data-measured="no"' : ' data-measured="yes"'}><dt>${escape(label)}</dt>` +
      `<dd class="value">${value === null ? 'not measured' : escape(value)}</dd><dd class="note">${escape(value === null ? `not measured yet: run npm run bench (${note})` : note)}</dd></div>`,
  );
  return `<dl class="figures">${items.join('')}</dl>`;
}
