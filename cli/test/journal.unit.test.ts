import { appendFileSync, existsSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { JournalFiles, JournalWriter, claimDeadJournals, journalDir, readBatchRecord } from '../src/wrap/journal';
import { deadPid, tempHome } from './helpers';

/** Issue 10: the journal's format, trimming and claiming (the kill -9 behaviour is in kill-journal.e2e). */
const header = { kmPid: process.pid, startedAt: 1000, options: { command: 'srv', args: [] }, projectConfig: null };
const batch = (text: string, at = 2000) => ({ directions: [0 as const, 1 as const], times: [at, at + 1], chunks: [Buffer.from(`${text}\n`), Buffer.from(`answer ${text}\n`)] });

function writer(home: string, files = JournalFiles.fresh(home)) {
  const failures: string[] = [];
  return { files, failures, journal: new JournalWriter(files, header, (reason) => failures.push(reason)) };
}

describe('the journal', () => {
  it('reads back every batch with its directions, times and bytes, and the header', () => {
    const { files, journal } = writer(tempHome('km-jrnl'));
    journal.append(1, batch('one', 2000));
    journal.append(2, batch('two', 3000));
    const { header: read, batches, tornBytes } = files.read();
    expect(read).toEqual(header);
    expect(tornBytes).toBe(0);
    expect(batches.map((b) => [b.seq, b.directions, b.times, b.chunks.map(String)])).toEqual([
      [1, [0, 1], [2000, 2001], ['one\n', 'answer one\n']],
      [2, [0, 1], [3000, 3001], ['two\n', 'answer two\n']],
    ]);
  });

  it("keeps the policy's refusals with the batch that carries them, read whole or by reference", () => {
    const { files, journal } = writer(tempHome('km-jrnl'));
    const block = { method: 'tools/call', target: 'echo', ruleId: 'deny-tool', reason: 'tool echo is denied', at: 2000 };
    journal.append(1, batch('one'));
    const ref = journal.append(2, { ...batch('two'), blocks: [block] })!;
    journal.append(3, batch('three'));
    expect(files.read().batches.map((b) => [b.seq, b.blocks])).toEqual([
      [1, undefined],
      [2, [block]],
      [3, undefined],
    ]);
    const read = readBatchRecord(ref)!;
    expect([read.seq, read.blocks, read.chunks.map(String)]).toEqual([2, [block], ['two\n', 'answer two\n']]);
  });

  it('skips a torn last record (km killed in the middle of a write) and keeps the whole ones', () => {
    const { files, journal } = writer(tempHome('km-jrnl'));
    journal.append(1, batch('one'));
    journal.append(2, batch('two'));
    const path = files.segments()[0]!;
    truncateSync(path, statSync(path).size - 3);
    const { batches, tornBytes } = files.read();
    expect(batches.map((b) => b.seq)).toEqual([1]);
    expect(tornBytes).toBeGreaterThan(0);
    appendFileSync(path, 'garbage'); // and garbage after it changes nothing
    expect(files.read().batches.map((b) => b.seq)).toEqual([1]);
  });

  it('is 0600 in a 0700 directory', () => {
    const home = tempHome('km-jrnl');
    const { files, journal } = writer(home);
    journal.append(1, batch('one'));
    expect(statSync(journalDir(home)).mode & 0o777).toBe(0o700);
    expect(statSync(files.segments()[0]!).mode & 0o777).toBe(0o600);
  });

  it('empties itself once the observer has spooled everything in it, and keeps what a pending request still needs', () => {
    const { files, journal } = writer(tempHome('km-jrnl'));
    const long = (text: string) => ({ directions: [0 as const], times: [1], chunks: [Buffer.from(`${text.padEnd(40 * 1024, '.')}\n`)] });
    journal.append(1, long('one'));
    journal.spooled(2); // all spooled, but too little to be worth a truncate on the hot path
    journal.append(2, long('two'));
    journal.spooled(2); // batch 2 still needed (a request in it waits for its answer)
    expect(files.read().batches.map((b) => b.seq)).toEqual([1, 2]);
    journal.spooled(3);
    expect(files.read().batches).toEqual([]);
    journal.append(3, batch('three'));
    expect(files.read()).toMatchObject({ header, batches: [{ seq: 3 }] });
  });

  it('drops whole segments that end before the oldest batch still needed', () => {
    const { files, journal } = writer(tempHome('km-jrnl'));
    const big = (seq: number) => ({ directions: [0 as const], times: [seq], chunks: [Buffer.alloc(600 * 1024, 0x61)] });
    for (let seq = 1; seq <= 4; seq++) {
      journal.append(seq, big(seq));
      journal.spooled(1); // a request in batch 1 still waits: segments close at 1 MB and stay
    }
    expect(files.segments()).toHaveLength(2);
    expect(files.read().batches.map((b) => b.seq)).toEqual([1, 2, 3, 4]);
    journal.spooled(3); // the segment of batches 1 and 2 is no longer needed
    expect(files.read().batches.map((b) => b.seq)).toEqual([3, 4]);
  });

  it('turns itself off on a write error and says why, never throwing into forwarding', () => {
    const home = tempHome('km-jrnl');
    appendFileSync(join(home, 'journal'), 'a file where the directory should be');
    const { journal, failures } = writer(home);
    expect(() => journal.append(1, batch('one'))).not.toThrow();
    expect(failures).toHaveLength(1);
    journal.append(2, batch('two'));
    expect(failures).toHaveLength(1);
  });

  it('is claimed for replay only when its km is dead, and by one replayer', () => {
    const home = tempHome('km-jrnl');
    const live = writer(home);
    live.journal.append(1, batch('live'));
    const dead = writer(home, new JournalFiles(journalDir(home), `${deadPid()}-1-abcdef`));
    dead.journal.append(1, batch('dead'));
    const claimed = claimDeadJournals(home);
    expect(claimed.map((f) => f.base)).toEqual([dead.files.base]);
    expect(claimDeadJournals(home)).toEqual([]); // held by this (live) process
    claimed[0]!.remove();
    expect(readdirSync(journalDir(home)).every((n) => n.startsWith(`${process.pid}-`))).toBe(true);
    expect(existsSync(live.files.segments()[0]!)).toBe(true);
  });
});
