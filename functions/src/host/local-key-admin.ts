import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { openSqliteDatabase } from '../adapters/sqlite-database';
import { SqliteEventLog } from '../adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../adapters/sqlite-read-model-store';
import { KeyDirectory } from '../keys/key-directory';
import { readModelIndexes } from '../read-models';

/**
 * The key directory of KM_HOME's database, for `km keys` on the machine that holds it: with km serve running (SQLite
 * WAL lets both write) or not. The events go to the same log, so the audit trail has them either way.
 */
export function openLocalKeyDirectory(home: string): { directory: KeyDirectory; close(): void } {
  const db = openSqliteDatabase(join(home, 'km.db'));
  const log = new SqliteEventLog(db);
  const store = new SqliteReadModelStore(db, { indexes: readModelIndexes });
  const directory = new KeyDirectory(
    store,
    async (events) => {
      await log.append(events);
    },
    () => new Date(),
    () => randomUUID(),
  );
  return { directory, close: () => db.close() };
}
