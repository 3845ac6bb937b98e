import type { RebuildStorage } from '../host/rebuild';
import type { SqliteDatabase } from './sqlite-database';

/**
 * The rebuild's switch over the tables of SqliteEventLog and SqliteReadModelStore in their shared file: only there
 * can the documents and the checkpoint of a read model change hands in one transaction.
 */
export function sqliteRebuildStorage(db: SqliteDatabase): RebuildStorage {
  const end = db.prepare<[], { next: number }>('SELECT next FROM km_event_sequence');
  // A block holds `count` events at first..first+count-1 (retention leaves gaps between blocks, never inside one).
  const after = db.prepare<[number, number, number], { n: number }>(
    'SELECT COALESCE(SUM(CASE WHEN first > ? THEN count ELSE first + count - 1 - ? END), 0) AS n FROM km_event_blocks WHERE first + count - 1 > ?',
  );
  const dropDocs = db.prepare<[string]>('DELETE FROM km_read_models WHERE model = ?');
  const renameDocs = db.prepare<[string, string]>('UPDATE km_read_models SET model = ? WHERE model = ?');
  const dropCheckpoint = db.prepare<[string]>('DELETE FROM km_checkpoints WHERE projector = ?');
  const moveCheckpoint = db.prepare<[string, string]>(
    `INSERT INTO km_checkpoints (projector, position) SELECT ?, position FROM km_checkpoints WHERE projector = ?
     ON CONFLICT (projector) DO UPDATE SET position = excluded.position`,
  );
  const clear = db.transaction((model: string) => {
    dropDocs.run(model);
    dropCheckpoint.run(model);
  });
  const replace = db.transaction((live: string, rebuilt: string) => {
    dropDocs.run(live);
    renameDocs.run(live, rebuilt);
    moveCheckpoint.run(live, rebuilt);
    dropCheckpoint.run(rebuilt);
  });
  return {
    logEnd: () => (end.get()?.next ?? 1) - 1,
    eventsAfter: (position) => after.get(position, position, position)!.n,
    clear: (model) => clear.immediate(model),
    replace: (live, rebuilt) => replace.immediate(live, rebuilt),
  };
}
