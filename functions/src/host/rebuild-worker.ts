import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteDatabase } from '../adapters/sqlite-database';
import { SqliteEventLog } from '../adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../adapters/sqlite-read-model-store';
import { readModelIndexes, readModelsNamed } from '../read-models';
import { rebuildCopy, replayHere } from './rebuild';
import type { FromRebuildThread, RebuildThreadData, ToRebuildThread } from './rebuild-lanes';

/**
 * One lane of a rebuild (rebuild-lanes.ts): folds the copies of its read models from the log until about its end,
 * posting each page, then exits. The main thread folds what arrived since and switches, under the live loop's hold.
 */
const data = workerData as RebuildThreadData;
const port = parentPort!;
const post = (message: FromRebuildThread) => port.postMessage(message);
let stopped = false;
port.on('message', (message: ToRebuildThread) => {
  if (message.type === 'stop') stopped = true;
});

const db = openSqliteDatabase(data.dbPath);
const replay = replayHere(new SqliteEventLog(db), new SqliteReadModelStore(db, { indexes: readModelIndexes }), data.maxBatch);
replay(readModelsNamed(data.models).map(rebuildCopy), async (handled) => post({ type: 'page', handled }), () => stopped)
  .then(
    () => post({ type: 'caught-up' }),
    (error: unknown) => post({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
  )
  .finally(() => {
    db.close();
    port.close();
  });
