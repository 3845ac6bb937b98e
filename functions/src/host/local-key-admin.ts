import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { LoggedEvent } from '@km/shared';
import { openSqliteDatabase } from '../adapters/sqlite-database';
import { SqliteEventLog } from '../adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../adapters/sqlite-read-model-store';
import { KeyDirectory } from '../keys/key-directory';
import { MemberDirectory } from '../members/member-directory';
import { TeamDirectory } from '../teams/team-directory';
import { readModelIndexes } from '../read-models';

/**
 * The key, member and team directories of KM_HOME's database, for `km keys` and `km members` on the machine that holds
 * it: with km serve running (SQLite WAL lets both write) or not. The events go to the same log, so the audit trail
 * has them either way.
 */
export function openLocalDirectories(home: string): { keys: KeyDirectory; members: MemberDirectory; teams: TeamDirectory; store: SqliteReadModelStore; close(): void } {
  const db = openSqliteDatabase(join(home, 'km.db'));
  const log = new SqliteEventLog(db);
  const store = new SqliteReadModelStore(db, { indexes: readModelIndexes });
  const append = async (events: LoggedEvent[]) => void (await log.append(events));
  const now = () => new Date();
  const newBatchId = () => randomUUID();
  return {
    keys: new KeyDirectory(store, append, now, newBatchId),
    members: new MemberDirectory(store, append, now, newBatchId),
    teams: new TeamDirectory(store, append, now, newBatchId),
    store,
    close: () => db.close(),
  };
}

/** The key directory alone (tests, and km keys). */
export function openLocalKeyDirectory(home: string): { directory: KeyDirectory; close(): void } {
  const { keys, close } = openLocalDirectories(home);
  return { directory: keys, close };
}
