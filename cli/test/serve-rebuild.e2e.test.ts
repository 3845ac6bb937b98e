import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { openSqliteDatabase } from '@km/functions/dist/adapters/sqlite-database';
import { SqliteEventLog } from '@km/functions/dist/adapters/sqlite-event-log';
import { SqliteReadModelStore } from '@km/functions/dist/adapters/sqlite-read-model-store';
import { readModels } from '@km/functions/dist/read-models';
import { aSessionOfEvents, anEnvelope, stored } from '../../functions/test/fixtures';
import { getJson, KM_BIN, requireBuiltKm, runKm, until } from './e2e-support';
import { tempHome } from './helpers';

let serve: ChildProcess | undefined;
afterEach(() => serve?.kill('SIGTERM'));

describe('km serve --rebuild', () => {
  beforeAll(requireBuiltKm);

  it('refuses a read model it does not have, naming those it has, before starting', async () => {
    const result = await runKm(['serve', '--port', '0', '--rebuild', 'sessions,costs'], { PATH: process.env.PATH ?? '', KM_HOME: tempHome('km-rebuild-bad') });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no read model named costs: give one of sessions, .*, or all/);
    expect(result.stdout).not.toMatch(/listening/);
  });

  it('replays the log into fresh read models while serving, then serves them', async () => {
    const home = tempHome('km-rebuild');
    // A km.db whose sessions document an older fold got wrong, checkpointed as if up to date.
    const db = openSqliteDatabase(join(home, 'km.db'));
    const log = new SqliteEventLog(db);
    const store = new SqliteReadModelStore(db);
    await log.append(stored(aSessionOfEvents(anEnvelope({ orgId: 'local', sessionId: 'rebuilt-session' }), '2026-08-01T10:00:00.000Z', 4)));
    await store.upsert('sessions', 'local', 'rebuilt-session', { id: 'rebuilt-session', sessionId: 'rebuilt-session', interactionCount: 99 });
    const end = (await log.read(0, 100)).at(-1)!.position;
    for (const { name } of readModels) await log.setCheckpoint(name, end);
    db.close();

    serve = spawn(process.execPath, [KM_BIN, 'serve', '--port', '0', '--rebuild', 'all'], { env: { PATH: process.env.PATH ?? '', KM_HOME: home } });
    let stdout = '';
    let stderr = '';
    serve.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    serve.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const url = await until('km serve to listen', () => /listening on (http:\S+)/.exec(stdout)?.[1]);
    await until('the rebuild to finish', () => (/rebuilt all; serving the rebuilt read models now/.test(stderr) ? true : undefined));
    expect(stderr).toMatch(/rebuilding sessions, interactions, .*: 100% \(6 of 6 events\)/);
    const session = await getJson(url, '/api/sessions/rebuilt-session');
    expect(session).toMatchObject({ interactionCount: 4 });
  });
});
