import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteDatabase } from '../adapters/sqlite-database';
import { SqliteEventLog } from '../adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../adapters/sqlite-read-model-store';
import type { Logger } from '../logger';
import { readModelIndexes, readModels } from '../read-models';
import { startProjectorLoop } from './projector-loop';
import type { ProjectorThreadData, ToProjectorThread, FromProjectorThread } from './projector-thread';

/**
 * The embedded projector loop on a thread of its own (issue 11): it folds on the second core while the main thread
 * takes requests, over its own connection to km.db (WAL: the readers of either thread never wait for the other).
 */
const data = workerData as ProjectorThreadData;
const port = parentPort!;
const post = (message: FromProjectorThread) => port.postMessage(message);
const logger: Logger = {
  info: (message) => post({ type: 'log', level: 'info', message }),
  warn: (message) => post({ type: 'log', level: 'warn', message }),
  error: (message) => post({ type: 'log', level: 'error', message }),
};

const db = openSqliteDatabase(data.dbPath);
const log = new SqliteEventLog(db);
const store = new SqliteReadModelStore(db, { indexes: readModelIndexes });
const loop = startProjectorLoop({ log, store, projections: readModels, logger, ...data.loop });
let resume: (() => void) | null = null;

port.on('message', (message: ToProjectorThread) => {
  switch (message.type) {
    case 'notify':
      return loop.notify();
    case 'idle':
      return void loop.idle().then(() => post({ type: 'done', id: message.id }));
    case 'pause':
      // Held until 'resume': the main thread sweeps or switches read models meanwhile.
      return void loop.exclusive(
        () =>
          new Promise<void>((resolve) => {
            resume = resolve;
            post({ type: 'done', id: message.id });
          }),
      );
    case 'resume':
      // A retention sweep may have split blocks this thread had decoded.
      log.forgetDecodedBlocks();
      resume?.();
      resume = null;
      return;
    case 'stop':
      return void loop.stop().then(() => {
        db.close();
        post({ type: 'done', id: message.id });
        port.close();
      });
  }
});
