// Ingest + projection (issue 11): realistic mcp.interaction events posted to `km serve` (a process of its own) in gzip
// batches of 500 (as the shipper sends them), timed until every read model has folded them, against a floor measured in the
// same run: JSON.parse of the same batch bodies plus one insert per event, one transaction per batch, into
// better-sqlite3. Then the same events through the projectors on a store that counts documents and bytes written
// (what the Cosmos adapter would be asked to write). Short mode by default; BENCH_INGEST_EVENTS=1000000 for the long one.
import { createRequire } from 'node:module';
import { gunzipSync, gzipSync } from 'node:zlib';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { loadavg, cpus, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { interactionBatches } from './ingest-events.mjs';
import { cpuSecondsOf, peakRssOf, startServe } from './km-serve.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const dist = (path) => require(join(here, '..', 'functions', 'dist', path));
const Database = require('better-sqlite3');
const { startEmbeddedHost } = dist('host/embedded-host.js');
const { readModels } = dist('read-models.js');
const { runProjectorOnce } = dist('projector.js');
const { MemoryEventLog } = dist('adapters/memory-event-log.js');
const { MemoryReadModelStore } = dist('adapters/memory-read-model-store.js');

const EVENTS = Number(process.env.BENCH_INGEST_EVENTS ?? 20_000);
/** The counting run keeps every document in memory: past this many events it folds a prefix (said in the output). */
const COUNTED_EVENTS = Math.min(EVENTS, Number(process.env.BENCH_COUNTED_EVENTS ?? 200_000));
/**
 * The long mode's 1M events span 30 days; a shorter run keeps that traffic density (events per minute) by spanning
 * fewer days, so that its per-event figures (documents, bytes) are those of the long run, not of a sparse month.
 */
const DAYS = Number(process.env.BENCH_INGEST_DAYS ?? Math.min(30, (30 * EVENTS) / 1_000_000));
const DEADLINE_MS = Number(process.env.BENCH_INGEST_DEADLINE_MS ?? 6 * 3_600_000);
/** The cloud projectors fold what one Event Hubs trigger delivers: host.json's maxEventBatchSize. */
const CLOUD_BATCH_EVENTS = JSON.parse(readFileSync(join(here, '..', 'host.json'), 'utf8')).extensions.eventHubs.maxEventBatchSize;
/** BENCH_WRITES_ONLY=1: only the write count (exact, whatever the machine's load), for trying a read model's shape. */
const WRITES_ONLY = process.env.BENCH_WRITES_ONLY === '1';
const quiet = { info() {}, warn() {}, error: (message) => console.error(message) };

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

function prepareBodies() {
  const bodies = [];
  let rawBytes = 0;
  for (const batch of interactionBatches(EVENTS, { days: DAYS })) {
    const json = JSON.stringify({ events: batch });
    rawBytes += Buffer.byteLength(json);
    bodies.push(gzipSync(json));
  }
  return { bodies, rawBytes };
}

/** The floor: what storing the events costs at the least (parse and insert, batched), same bodies, same disk. */
function measureFloor(bodies) {
  const dir = mkdtempSync(join(tmpdir(), 'km-bench-floor-'));
  const db = new Database(join(dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (org_id, id))');
  const insert = db.prepare('INSERT OR IGNORE INTO events (org_id, id, body) VALUES (?, ?, ?)');
  const insertAll = db.transaction((events) => {
    for (const event of events) insert.run(event.orgId, event.id, JSON.stringify(event));
  });
  let ms = 0;
  for (const body of bodies) {
    const text = gunzipSync(body).toString('utf8');
    const t0 = performance.now();
    insertAll(JSON.parse(text).events);
    ms += performance.now() - t0;
  }
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return EVENTS / (ms / 1000);
}

function dirBytes(dir) {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/**
 * Ingest through HTTP into `km serve` in a process of its own (as users run it), then wait until every read model's
 * checkpoint reaches the log's end. Its peak RSS and CPU are its own, read from /proc: the bench's bodies and HTTP
 * client are not counted.
 */
async function measureIngest(bodies) {
  const home = mkdtempSync(join(tmpdir(), 'km-bench-ingest-'));
  const serve = await startServe(home);
  const watcher = new Database(join(home, 'km.db'), { readonly: true });
  let measured;
  try {
    measured = await ingestAndWait(bodies, serve, watcher);
  } finally {
    // Whatever went wrong, km serve is not left running (its log shows why, stop() passes it on).
    watcher.close();
    await serve.stop();
  }
  const diskBytes = dirBytes(home);
  const rebuild = await measureRebuild(home);
  rmSync(home, { recursive: true, force: true });
  return { ...measured, diskBytes, rebuild };
}

/** Posts the bodies, then waits for every read model's checkpoint to reach the log's end; timed from the first post. */
async function ingestAndWait(bodies, serve, watcher) {
  const cpu0 = cpuSecondsOf(serve.pid);
  const t0 = performance.now();
  for (const body of bodies) {
    const response = await fetch(`${serve.url}/api/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    });
    if (response.status !== 202) throw new Error(`ingest answered ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
  }
  const ingestMs = performance.now() - t0;
  const names = readModels.map((model) => model.name);
  const caughtUp = () => {
    const end = watcher.prepare('SELECT next - 1 AS p FROM km_event_sequence').get().p;
    const rows = watcher.prepare(`SELECT projector, position FROM km_checkpoints`).all();
    const at = new Map(rows.map((row) => [row.projector, row.position]));
    return names.every((name) => at.get(name) === end);
  };
  while (!caughtUp()) {
    if (performance.now() - t0 > DEADLINE_MS) throw new Error('the projectors did not catch up before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const totalMs = performance.now() - t0;
  return {
    ingestPerSecond: EVENTS / (ingestMs / 1000),
    perSecond: EVENTS / (totalMs / 1000),
    totalMs,
    cpuSeconds: cpuSecondsOf(serve.pid) - cpu0,
    rss: peakRssOf(serve.pid),
  };
}

/** km serve --rebuild all over the log just ingested: a fresh host replays it into new read models, then switches. */
async function measureRebuild(home) {
  const t0 = performance.now();
  const host = await startEmbeddedHost({ home, port: 0, logger: quiet, rebuild: ['all'] });
  const outcome = await host.rebuilt;
  const ms = performance.now() - t0;
  await host.close();
  if (outcome !== 'done') throw new Error(`the rebuild ended ${outcome}`);
  return { perSecond: EVENTS / (ms / 1000), ms };
}

/** A ReadModelStore that counts what it is asked to write: the Cosmos adapter's writes, one per document. */
function countingStore(inner) {
  const counts = new Map();
  const count = (model, doc) => {
    const c = counts.get(model) ?? { docs: 0, bytes: 0 };
    c.docs++;
    c.bytes += Buffer.byteLength(JSON.stringify(doc));
    counts.set(model, c);
  };
  const store = {
    get: (...args) => inner.get(...args),
    getMany: inner.getMany ? (...args) => inner.getMany(...args) : undefined,
    query: (...args) => inner.query(...args),
    close: () => inner.close(),
    upsert(model, pk, id, doc, ...rest) {
      count(model, doc);
      return inner.upsert(model, pk, id, doc, ...rest);
    },
    upsertMany: inner.upsertMany
      ? (model, writes) => {
          for (const write of writes) count(model, write.doc);
          return inner.upsertMany(model, writes);
        }
      : undefined,
  };
  if (!store.getMany) delete store.getMany;
  if (!store.upsertMany) delete store.upsertMany;
  return { store, counts };
}

async function measureWrites() {
  const log = new MemoryEventLog();
  let counted = 0;
  for (const batch of interactionBatches(EVENTS, { days: DAYS })) {
    if (counted >= COUNTED_EVENTS) break;
    const slice = batch.slice(0, COUNTED_EVENTS - counted);
    counted += slice.length;
    // As the ingest stores them: one batch id and one receivedAt per POST (after its newest event).
    const receivedAt = slice.reduce((latest, event) => (event.ts > latest ? event.ts : latest), '');
    const batchId = `bench-${counted}`;
    await log.append(slice.map((event) => ({ ...event, receivedAt, batchId })));
  }
  const { store, counts } = countingStore(new MemoryReadModelStore());
  for (const projection of readModels) while ((await runProjectorOnce(projection, log, store, CLOUD_BATCH_EVENTS)) > 0);
  let docs = 0;
  let bytes = 0;
  const perModel = {};
  for (const [model, c] of counts) {
    docs += c.docs;
    bytes += c.bytes;
    perModel[model] = { docsPer1000: (c.docs / counted) * 1000, bytesPerEvent: c.bytes / counted };
  }
  return { counted, docsPer1000: (docs / counted) * 1000, bytesPerEvent: bytes / counted, perModel };
}

/**
 * Cosmos DB serverless, as assumed here: a write costs about 5.5 RU per started KB of the item (the insert/replace
 * figure Microsoft publishes for 1 KB items with default indexing, scaled linearly), a point read 1 RU per KB, and
 * 1M RU costs $0.25. Each written document is read once first (the projector's ETag read).
 */
function cosmosUsdPerMillionEvents(docsPer1000, bytesPerEvent) {
  const writesPerEvent = docsPer1000 / 1000;
  const kbPerWrite = writesPerEvent > 0 ? bytesPerEvent / writesPerEvent / 1024 : 0;
  const ruPerEvent = writesPerEvent * (5.5 * Math.max(1, Math.ceil(kbPerWrite)) + Math.max(1, Math.ceil(kbPerWrite)));
  return ruPerEvent * 1e6 * (0.25 / 1e6);
}

const printRows = (rows) => {
  for (const [label, value, target] of rows) console.log(`${label.padEnd(46)} ${value.padEnd(40)} ${target}`);
};

function printWrites(writes, usd) {
  printRows([
    [`documents written per 1000 events (${writes.counted} events)`, writes.docsPer1000.toFixed(1), '<= 50'],
    ['bytes written per event', writes.bytesPerEvent.toFixed(0), '<= 2048'],
    ['Cosmos serverless, est. per 1M events', `$${usd.toFixed(2)}`, ''],
  ]);
  console.log(`per read model, folded in trigger batches of ${CLOUD_BATCH_EVENTS} events (host.json; docs per 1000 events, bytes per event):`);
  for (const [model, m] of Object.entries(writes.perModel)) console.log(`  ${model.padEnd(16)} ${m.docsPer1000.toFixed(1).padStart(8)} ${m.bytesPerEvent.toFixed(0).padStart(8)}`);
}

async function main() {
  console.log(`ingest bench: ${EVENTS} mcp.interaction events over ${DAYS} days in gzip batches of 500; ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); load ${load()}`);
  const writes = await measureWrites();
  const usd = cosmosUsdPerMillionEvents(writes.docsPer1000, writes.bytesPerEvent);
  if (WRITES_ONLY) return printWrites(writes, usd);
  const { bodies, rawBytes } = prepareBodies();
  const floor = measureFloor(bodies);
  const ingest = await measureIngest(bodies);
  const ratio = ingest.perSecond / floor;
  const rows = [
    ['floor: JSON.parse + insert, batched', `${Math.round(floor)} events/s`, ''],
    ['ingest (HTTP 202s only)', `${Math.round(ingest.ingestPerSecond)} events/s`, ''],
    ['ingest until all read models reflect it', `${Math.round(ingest.perSecond)} events/s (${(ratio * 100).toFixed(1)}% of floor)`, '>= 40% and >= 15000/s'],
    ['km serve CPU', `${ingest.cpuSeconds.toFixed(1)} s (${(ingest.totalMs / 1000).toFixed(1)} s wall)`, ''],
    ['km serve peak RSS (its own process)', `${(ingest.rss / 2 ** 20).toFixed(0)} MB`, '<= 300 MB'],
    ['km serve --rebuild all', `${Math.round(ingest.rebuild.perSecond)} events/s (${(ingest.rebuild.ms / 1000).toFixed(1)} s)`, '>= 15000/s'],
    ['disk under KM_HOME / raw events JSON', `${(ingest.diskBytes / 2 ** 20).toFixed(1)} MB / ${(rawBytes / 2 ** 20).toFixed(1)} MB = ${(ingest.diskBytes / rawBytes).toFixed(2)}x`, '<= 2x'],
  ];
  printRows(rows);
  printWrites(writes, usd);
  console.log(`load after: ${load()}`);

  const resultsPath = process.env.BENCH_RESULTS ?? join(here, 'results.json');
  const previous = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {};
  const results = {
    ...previous,
    ingest: {
      at: new Date().toISOString(),
      events: EVENTS,
      cores: cpus().length,
      loadavg: loadavg(),
      floorEventsPerSecond: floor,
      eventsPerSecond: ingest.perSecond,
      ratioToFloor: ratio,
      ingestOnlyEventsPerSecond: ingest.ingestPerSecond,
      cpuSeconds: ingest.cpuSeconds,
      peakRssBytes: ingest.rss,
      rebuildEventsPerSecond: ingest.rebuild.perSecond,
      diskBytes: ingest.diskBytes,
      rawEventBytes: rawBytes,
      countedEvents: writes.counted,
      docsPer1000Events: writes.docsPer1000,
      bytesWrittenPerEvent: writes.bytesPerEvent,
      perModel: writes.perModel,
      cosmosUsdPerMillionEvents: usd,
    },
  };
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
