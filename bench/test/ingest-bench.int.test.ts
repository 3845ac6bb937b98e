import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function runBench(script: string, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(__dirname, '..', script)], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The benches' short modes, so that they cannot rot: each runs end to end and reports every figure it promises. */
describe('the ingest bench (npm run bench, short)', () => {
  it('ingests, folds, rebuilds and counts writes, printing each figure and writing them to its results file', async () => {
    const results = join(mkdtempSync(join(tmpdir(), 'km-bench-')), 'results.json');
    const run = await runBench('ingest.mjs', { BENCH_INGEST_EVENTS: '3000', BENCH_RESULTS: results });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    for (const row of ['floor: JSON.parse + insert', 'ingest until all read models reflect it', 'peak RSS', 'km serve --rebuild all', 'disk under KM_HOME', 'documents written per 1000 events', 'bytes written per event']) {
      expect(run.stdout).toContain(row);
    }
    const { ingest } = JSON.parse(readFileSync(results, 'utf8'));
    expect(ingest).toMatchObject({ events: 3000, countedEvents: 3000 });
    for (const figure of ['eventsPerSecond', 'floorEventsPerSecond', 'rebuildEventsPerSecond', 'peakRssBytes', 'diskBytes', 'docsPer1000Events', 'bytesWrittenPerEvent']) {
      expect(ingest[figure]).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe('the dashboard query bench (npm run bench, short)', () => {
  it('answers every request the dashboard makes, with each filter, 200, and writes their p50 and p99', async () => {
    const results = join(mkdtempSync(join(tmpdir(), 'km-bench-')), 'results.json');
    const run = await runBench('queries.mjs', { BENCH_QUERY_EVENTS: '2000', BENCH_QUERY_REPEATS: '2', BENCH_RESULTS: results });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/0 not answered 200/);
    const { queries } = JSON.parse(readFileSync(results, 'utf8'));
    expect(queries.rows.length).toBeGreaterThan(60);
    for (const row of queries.rows) expect(row).toMatchObject({ status: 200, p50: expect.any(Number), p99: expect.any(Number), firstMs: expect.any(Number), p99AfterFirst: expect.any(Number) });
  }, 300_000);
});

describe('the dashboard load bench (npm run bench, short)', () => {
  it('opens every view in chromium over a month of traffic and writes how long each took to draw', async () => {
    const results = join(mkdtempSync(join(tmpdir(), 'km-bench-')), 'results.json');
    const run = await runBench('dashboard-load.mjs', { BENCH_QUERY_EVENTS: '2000', BENCH_SHORT: '1', BENCH_RESULTS: results });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    for (const view of ['overview', 'cost', 'risk', 'performance']) expect(run.stdout).toMatch(new RegExp(`${view} +cold km serve +\\d+ ms`));
    const { dashboardLoad } = JSON.parse(readFileSync(results, 'utf8'));
    expect(dashboardLoad).toMatchObject({ events: 2000, targetMs: 1500 });
    expect(dashboardLoad.rows.map((row: { view: string }) => row.view)).toEqual(['overview', 'cost', 'risk', 'performance']);
    for (const row of dashboardLoad.rows) expect(row.ms).toBeGreaterThan(0);
  }, 300_000);
});

describe('the wrapper burst bench (npm run bench, short)', () => {
  it('runs a burst and a paced run through km and a bare pass-through, and writes both rows', async () => {
    const results = join(mkdtempSync(join(tmpdir(), 'km-bench-')), 'results.json');
    const run = await runBench('burst.mjs', { BENCH_SHORT: '1', BENCH_RESULTS: results });
    expect(run.status).toBe(0);
    for (const mode of ['burst', 'paced']) expect(run.stdout).toMatch(new RegExp(`${mode} .* km peak RSS \\d+ MB, bare pass-through \\d+ MB = [\\d.]+x; 60 MB target (met|NOT met);.*dropped \\d+; in km serve \\d+ of \\d+ interactions; load`));
    const { burst } = JSON.parse(readFileSync(results, 'utf8'));
    expect(burst.rows.map((r: { mode: string }) => r.mode)).toEqual(['burst', 'paced']);
    for (const row of burst.rows) {
      expect(row.kmPeakRssBytes).toBeGreaterThan(0);
      expect(row.barePeakRssBytes).toBeGreaterThan(0);
      // Everything the session held is in km serve or counted dropped.
      expect(row.interactionsInServe + row.droppedObservations).toBeGreaterThanOrEqual(row.interactionsInSession);
    }
  }, 300_000);
});
