import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { KmEvent } from '@km/shared';
import { loadSettings } from '../src/config/settings';
import { Spool } from '../src/spool';
import { JournalFiles, JournalWriter, journalDir } from '../src/wrap/journal';
import { replayDeadJournals } from '../src/wrap/session';
import { deadPid, silent, tempHome } from './helpers';

/** Issue 10: replaying a dead km's journal re-observes only what the spool lacks, and pairs across the ack. */
const line = (value: unknown) => Buffer.from(JSON.stringify(value) + '\n');
const request = (id: number, message: string) => line({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } });
const answer = (id: number, text: string) => line({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } });
const envelope = { orgId: 'local', projectId: 'p', userId: 'u@example.com', machineId: 'm', sessionId: 'journal-session', server: { name: 'srv', command: 'srv' } };

function deadJournal(home: string) {
  const files = new JournalFiles(journalDir(home), `${deadPid()}-1-abcdef`);
  const journal = new JournalWriter(files, { kmPid: 1, startedAt: 1000, options: { command: 'srv', args: [] }, projectConfig: null }, () => {});
  files.writeSession({ sessionId: 'journal-session', startedAt: 1000, options: { command: 'srv', args: [] }, projectConfig: null, envelope });
  return { files, journal };
}

const parseRecordsOf = (files: JournalFiles) => files.read().end;

async function replayed(home: string): Promise<KmEvent[]> {
  const spool = new Spool(home, 1 << 30, silent);
  expect(await replayDeadJournals(loadSettings({ KM_HOME: home }), spool, silent)).toBe(1);
  spool.close();
  return readFileSync(spool.own.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as KmEvent);
}

describe('replaying a journal', () => {
  it('makes only the events the spool lacks: a request from a spooled batch pairs with its answer from a later one', async () => {
    const home = tempHome('km-replay');
    const { files, journal } = deadJournal(home);
    // Batch 1: call 1 asked and answered (spooled before the kill), call 2 asked; batch 2: call 2 answered.
    journal.append(1, { directions: [0, 0, 1], times: [2000, 2001, 2002], chunks: [request(1, 'one'), request(2, 'AKIAIOSFODNN7EXAMPLE'), answer(1, 'one')] });
    journal.append(2, { directions: [1], times: [3000], chunks: [answer(2, 'two')] });
    const identity = { protocolVersion: '2025-06-18', client: { name: 'client', version: '1' }, serverInfo: { name: 'srv' } };
    files.writeAck({ spooledThrough: 1, neededFrom: 1, started: true, childPid: 42, dropped: 3, end: null, at: 2002, identity });
    const events = await replayed(home);
    expect(events.map((e) => e.type)).toEqual(['mcp.interaction', 'session.ended']);
    expect(events[0]).toMatchObject({ requestId: '2', outcome: 'ok', protocolVersion: '2025-06-18', sessionId: 'journal-session', userId: 'u@example.com', startedAt: new Date(2001).toISOString() });
    expect(JSON.stringify(events)).not.toContain('AKIAIOSFODNN7EXAMPLE'); // replay redacts like the live observer
    expect(events[1]).toMatchObject({ exitCode: null, signal: 'SIGKILL', droppedObservations: 3, durationMs: 2000 });
    expect(files.segments()).toEqual([]);
  });

  it('ends the session as the forwarding thread saw it: the client signal, then the server exit, not SIGKILL', async () => {
    const home = tempHome('km-replay-end');
    const { files, journal } = deadJournal(home);
    journal.append(1, { directions: [0, 1], times: [2000, 2001], chunks: [request(1, 'one'), answer(1, 'one')] });
    journal.appendEnd({ exitCode: null, signal: 'SIGINT', at: 2500 });
    const signalled = parseRecordsOf(files);
    expect(signalled).toEqual({ exitCode: null, signal: 'SIGINT', at: 2500 });
    journal.appendEnd({ exitCode: 130, signal: null, at: 2600 }); // the server exited; the last note stands
    journal.close();
    const events = await replayed(home);
    expect(events.at(-1)).toMatchObject({ type: 'session.ended', exitCode: 130, signal: null, durationMs: 1600 });
  });

  it("records the policy's refusals the spool lacks, once: a kill -9 right after a denial keeps it", async () => {
    const home = tempHome('km-replay-blocked');
    const { files, journal } = deadJournal(home);
    const block = (target: string, at: number) => ({ method: 'tools/call', target, ruleId: 'deny-tool', reason: `tool ${target} is denied`, at });
    // Batch 1 (spooled before the kill) refused "rm"; batch 2 (not spooled) refused "echo".
    journal.append(1, { directions: [0], times: [2000], chunks: [request(1, 'x')], blocks: [block('rm', 2000)] });
    journal.append(2, { directions: [0], times: [3000], chunks: [request(2, 'y')], blocks: [block('echo', 3000)] });
    files.writeAck({ spooledThrough: 1, neededFrom: 1, started: true, childPid: 42, dropped: 0, end: null, at: 2000 }); // call 1 still pending: batch 1 is re-observed, muted
    const events = await replayed(home);
    expect(events.filter((e) => e.type === 'policy.blocked')).toEqual([
      expect.objectContaining({ type: 'policy.blocked', target: 'echo', ruleId: 'deny-tool', ts: new Date(3000).toISOString(), sessionId: 'journal-session' }),
    ]);
  });

  it('resumes inside a PEM private key printed line by line: the rest of the key is not read as plain lines', async () => {
    const home = tempHome('km-replay-pem');
    const { files, journal } = deadJournal(home);
    const body = ['MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj', 'MZR3rJ0vW+6Fh0sQ1bXnT2uYg5ePz4kLmN8oCqVb7aD3fE9hI2jK4lM6nO8pQ0rS', 'tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3rS5tU7vW9xY1zA3bC5dE7fG9hI1'];
    const text = (lines: string[]) => lines.map((l) => Buffer.from(`${l}\n`));
    journal.append(1, { directions: [1, 1], times: [2000, 2001], chunks: text(['-----BEGIN PRIVATE KEY-----', body[0]!]) });
    journal.append(2, { directions: [1, 1, 1, 1], times: [3000, 3001, 3002, 3003], chunks: text([body[1]!, body[2]!, '-----END PRIVATE KEY-----', 'server ready']) });
    files.writeAck({ spooledThrough: 1, neededFrom: 2, started: true, childPid: 42, dropped: 0, end: null, at: 2001, openPrivateKeys: ['server_to_client'] });
    const events = await replayed(home);
    const details = events.flatMap((e) => (e.type === 'protocol.violation' ? [e.detail] : []));
    expect(details).toEqual(['[REDACTED:private-key]', '[REDACTED:private-key]', '[REDACTED:private-key]', 'server ready']);
    for (const line of body) expect(JSON.stringify(events)).not.toContain(line.slice(0, 20));
  });

  it('with no progress written (killed at once), replays everything and starts the session too', async () => {
    const home = tempHome('km-replay');
    const { journal } = deadJournal(home);
    journal.append(1, { directions: [0, 1], times: [2000, 2001], chunks: [request(1, 'one'), answer(1, 'one')] });
    const events = await replayed(home);
    expect(events.map((e) => e.type)).toEqual(['session.started', 'mcp.interaction', 'session.ended']);
  });

  it('makes the same ids as the live session would: a second replay of the same journal adds nothing new', async () => {
    const first = tempHome('km-replay');
    const second = tempHome('km-replay');
    for (const home of [first, second]) {
      const { journal } = deadJournal(home);
      journal.append(1, { directions: [0, 1], times: [2000, 2001], chunks: [request(1, 'one'), answer(1, 'one')] });
    }
    const ids = async (home: string) => (await replayed(home)).map((e) => e.id);
    expect(await ids(first)).toEqual(await ids(second));
  });
});

describe('removing a journal', () => {
  it('takes the drafts a kill -9 left between a write and its rename, and leaves other journals alone', () => {
    const home = tempHome('km-journal-drafts');
    const files = new JournalFiles(journalDir(home), `${deadPid()}-1-abcdef`);
    const other = new JournalFiles(journalDir(home), `${deadPid()}-2-fedcba`);
    files.writeAck({ spooledThrough: 0, neededFrom: 0, started: false, childPid: 0, dropped: 0, end: null, at: 0, identity: null } as never);
    other.writeAck({ spooledThrough: 0, neededFrom: 0, started: false, childPid: 0, dropped: 0, end: null, at: 0, identity: null } as never);
    writeFileSync(`${files.ackPath}.4242.tmp`, '{"spooledThrough":');
    files.remove();
    expect(readdirSync(journalDir(home))).toEqual([`${other.base}.ack`]);
  });
});
