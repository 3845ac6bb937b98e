import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The ingest bench's short mode, so that it cannot rot: it runs end to end and reports every figure it promises. */
describe('the ingest bench (npm run bench, short)', () => {
  it('ingests, folds, rebuilds and counts writes, printing each figure and writing them to its results file', async () => {
    const results = join(mkdtempSync(join(tmpdir(), 'km-bench-')), 'results.json');
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(__dirname, '..', 'ingest.mjs')], {
        env: { ...process.env, BENCH_INGEST_EVENTS: '3000', BENCH_RESULTS: results },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
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
