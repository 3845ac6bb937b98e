// A KM_HOME holding a month of traffic (bench/ingest-events.mjs, 30 days from 2026-10-01), folded straight into its
// km.db: what the query bench and the dashboard load bench read. BENCH_QUERY_HOME names one built before instead.
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interactionBatches } from './ingest-events.mjs';

const require = createRequire(import.meta.url);
const dist = (path) => require(join(dirname(fileURLToPath(import.meta.url)), '..', 'functions', 'dist', path));
const { openSqliteDatabase } = dist('adapters/sqlite-database.js');
const { SqliteEventLog } = dist('adapters/sqlite-event-log.js');
const { SqliteReadModelStore } = dist('adapters/sqlite-read-model-store.js');
const { readModels, readModelIndexes } = dist('read-models.js');
const { runProjectorsOnce } = dist('projector.js');

const DAY = 86_400_000;
/** Where ingest-events.mjs begins: the month the benches ask about is [MONTH_FROM, MONTH_TO]. */
export const MONTH_FROM = '2026-10-01T00:00:00.000Z';
export const MONTH_TO = new Date(Date.parse(MONTH_FROM) + 30 * DAY).toISOString();

export async function buildMonthHome(events, prefix = 'km-bench-month-') {
  const home = mkdtempSync(join(tmpdir(), prefix));
  const db = openSqliteDatabase(join(home, 'km.db'));
  const log = new SqliteEventLog(db);
  const store = new SqliteReadModelStore(db, { indexes: readModelIndexes });
  let n = 0;
  for (const batch of interactionBatches(events, { days: 30 })) {
    n += batch.length;
    const receivedAt = batch.reduce((latest, event) => (event.ts > latest ? event.ts : latest), '');
    await log.append(batch.map((event) => ({ ...event, receivedAt, batchId: `bench-${n}` })));
  }
  while ((await runProjectorsOnce(readModels, log, store, 2000)).handled > 0);
  db.close();
  return home;
}
