import { JournalFiles, JournalWriter, journalDir } from '../src/wrap/journal';
import { requireBuiltKm, runKm } from './e2e-support';
import { deadPid, tempHome } from './helpers';

/** A killed km's journal is work waiting: km status says so, and km flush replays it. */
describe('km status and a dead km journal', () => {
  beforeAll(() => requireBuiltKm());

  it('names the sessions that wait for a replay until km flush replays them', async () => {
    const home = tempHome('km-status-journal');
    const files = new JournalFiles(journalDir(home), `${deadPid()}-1-abcdef`);
    const journal = new JournalWriter(files, { kmPid: 1, startedAt: 1000, options: { command: 'srv', args: [] }, projectConfig: null }, () => {});
    const line = (value: unknown) => Buffer.from(JSON.stringify(value) + '\n');
    journal.append(1, { directions: [0, 1], times: [2000, 2001], chunks: [line({ jsonrpc: '2.0', id: 1, method: 'ping' }), line({ jsonrpc: '2.0', id: 1, result: {} })] });
    journal.close();
    const env = { PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'status@example.com' };
    expect((await runKm(['status'], env)).stdout).toContain('journal:   1 session(s) of km processes that were killed wait to be replayed');
    await runKm(['flush'], env); // nothing listens: the replayed events wait in the spool
    const after = await runKm(['status'], env);
    expect(after.stdout).not.toContain('journal:');
    expect(after.stdout).toMatch(/spool: {5}1 file\(s\)/);
  });
});
