import type { RebuildStorage } from '../host/rebuild';
import type { SqliteDatabase } from './sqlite-database';

/**
 * The rebuild's switch over the tables of SqliteEventLog and SqliteReadModelStore in their shared file: only there
 * can the documents and the checkpoint of a read model change hands in one transaction.
 */
export function sqliteRebuildStorage(db: SqliteDatabase): RebuildStorage {
  const end = db.prepare<[], { next: number }>('SELECT next FROM km_event_sequence');
  // A block holds `count` events at first..first+count-1 (retention leaves gaps between blocks, never inside one):
  // the blocks starting in the range, by primary key, and the one that started before it and reaches into it.
  const startingIn = db.prepare<[number, number, number], { n: number }>('SELECT COALESCE(SUM(MIN(count, ? - first + 1)), 0) AS n FROM km_event_blocks WHERE first > ? AND first <= ?');
  const reachingIn = db.prepare<[number], { first: number; count: number }>('SELECT first, count FROM km_event_blocks WHERE first <= ? ORDER BY first DESC LIMIT 1');
  const eventsBetween = (after: number, upTo: number): number => {
    if (upTo <= after) return 0;
    const before = reachingIn.get(after);
    const carried = before ? Math.max(0, Math.min(before.first + before.count - 1, upTo) - after) : 0;
    return carried + startingIn.get(upTo, after, upTo)!.n;
  };
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
    eventsBetween,
    clear: (model) => clear.immediate(model),
    replace: (live, rebuilt) => replace.immediate(live, rebuilt),
  };
}
