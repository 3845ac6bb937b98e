import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spool, SpoolFile } from '../src/spool';
import { deadPid, notification, silent, tempHome } from './helpers';

describe('Spool', () => {
  it('appends whole lines and reads them back in batches from the acknowledged offset', () => {
    const spool = new Spool(tempHome(), 1e9, silent);
    const events = Array.from({ length: 5 }, () => notification());
    spool.append(events.slice(0, 3));
    spool.append(events.slice(3));
    const first = spool.own.readBatch(2, silent)!;
    expect(first.events.map((e) => e.id)).toEqual(events.slice(0, 2).map((e) => e.id));
    spool.own.ack(first.endOffset);
    const rest = spool.own.readBatch(100, silent)!;
    expect(rest.events.map((e) => e.id)).toEqual(events.slice(2).map((e) => e.id));
    spool.own.ack(rest.endOffset);
    expect(spool.own.readBatch(100, silent)).toBeNull();
    expect(spool.own.fullyShipped()).toBe(true);
  });

  it('counts as waiting only the bytes after each file\'s acknowledged offset (km status)', () => {
    const spool = new Spool(tempHome(), 1e9, silent);
    spool.append([notification(), notification()]);
    const size = statSync(spool.own.path).size;
    expect(spool.waiting()).toEqual({ files: 1, bytes: size });
    const first = spool.own.readBatch(1, silent)!;
    spool.own.ack(first.endOffset);
    expect(spool.waiting()).toEqual({ files: 1, bytes: size - first.endOffset });
    spool.own.ack(spool.own.readBatch(100, silent)!.endOffset);
    // Shipped to its end: the file is still there, and nothing of it waits.
    expect(existsSync(spool.own.path)).toBe(true);
    expect(readdirSync(spool.dir).filter((name) => name.endsWith('.ack')).map((name) => statSync(join(spool.dir, name)).mode & 0o777)).toEqual([0o600]);
    expect(spool.waiting()).toEqual({ files: 0, bytes: 0 });
  });

  it('waits for a line still being written, and skips a torn line once its writer is gone', () => {
    const spool = new Spool(tempHome(), 1e9, silent);
    spool.append([notification()]);
    appendFileSync(spool.own.path, '{"id":"torn');
    const batch = spool.own.readBatch(100, silent)!;
    spool.own.ack(batch.endOffset);
    expect(spool.own.readBatch(100, silent)).toBeNull();
    const final = spool.own.readBatch(100, silent, true)!;
    expect(final.events).toEqual([]);
    spool.own.ack(final.endOffset);
    expect(spool.own.fullyShipped()).toBe(true);
  });

  it('claims the files of dead km processes exactly once, oldest first', () => {
    const home = tempHome();
    const dir = join(home, 'spool');
    const a = new Spool(home, 1e9, silent);
    const pid = deadPid();
    const orphanEvent = notification();
    writeFileSync(join(dir, `1-1-aaaaaa.${pid}.jsonl`), JSON.stringify(orphanEvent) + '\n');
    writeFileSync(join(dir, `2-2-bbbbbb.${process.pid === 1 ? 2 : 1}.jsonl`), '');
    const claimed = a.claimOrphans();
    expect(claimed.map((f) => f.spoolId)).toEqual(['1-1-aaaaaa']);
    expect(claimed[0]!.readBatch(10, silent, true)!.events[0]!.id).toBe(orphanEvent.id);
    const b = new Spool(home, 1e9, silent);
    expect(b.claimOrphans()).toEqual([]); // now owned by this (live) process
    expect(readdirSync(dir)).toContain(`1-1-aaaaaa.${process.pid}.jsonl`);
  });

  it('keeps the acknowledged offset across a claim, so nothing is shipped twice', () => {
    const home = tempHome();
    const pid = deadPid();
    const dir = join(home, 'spool');
    new Spool(home, 1e9, silent);
    const events = [notification(), notification()];
    writeFileSync(join(dir, `9-9-cccccc.${pid}.jsonl`), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const before = new SpoolFile(dir, '9-9-cccccc', pid);
    before.ack(before.readBatch(1, silent)!.endOffset);
    const [claimed] = new Spool(home, 1e9, silent).claimOrphans();
    expect(claimed!.readBatch(10, silent, true)!.events.map((e) => e.id)).toEqual([events[1]!.id]);
  });

  it('drops events with one clear warning when full', () => {
    const warnings: string[] = [];
    const spool = new Spool(tempHome(), 600, silent, (m) => warnings.push(m));
    expect(spool.append([notification()])).toBe(true);
    expect(spool.append([notification(), notification()])).toBe(false);
    expect(spool.append([notification()])).toBe(false);
    expect(spool.dropped).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/spool .* is full/);
  });

  it('quarantines refused events with the reason, outside the shipping path', () => {
    const home = tempHome();
    const spool = new Spool(home, 1e9, silent);
    const event = notification();
    spool.quarantine([event], 'events[0].type: invalid');
    const line = JSON.parse(readFileSync(join(home, 'spool', 'rejected.jsonl'), 'utf8'));
    expect(line).toEqual({ reason: 'events[0].type: invalid', event });
    expect(spool.claimOrphans()).toEqual([]);
  });
});

describe('Spool space', () => {
  it('counts only what waits to ship: once acknowledged, space is free again', () => {
    const warnings: string[] = [];
    const spool = new Spool(tempHome(), 1500, silent, (m) => warnings.push(m));
    while (spool.append([notification()])) {
      // fill it up
    }
    expect(warnings).toHaveLength(1);
    const all = spool.own.readBatch(1000, silent)!;
    spool.own.ack(all.endOffset); // shipped
    expect(spool.append([notification()])).toBe(true);
  });

  it("replaces a long session's own file once everything in it shipped, so shipped bytes leave the disk", () => {
    const spool = new Spool(tempHome(), 1e9, silent);
    const batch = Array.from({ length: 5000 }, () => notification());
    while (spool.own.size() < 8 * 1024 * 1024) spool.append(batch);
    const first = spool.own.path;
    spool.rotateIfShipped();
    expect(spool.own.path).toBe(first); // not yet shipped: kept
    for (let b = spool.own.readBatch(100000, silent); b; b = spool.own.readBatch(100000, silent)) spool.own.ack(b.endOffset);
    spool.rotateIfShipped();
    expect(spool.own.path).not.toBe(first);
    expect(existsSync(first)).toBe(false);
    const next = notification();
    spool.append([next]);
    expect(spool.own.readBatch(10, silent)!.events.map((e) => e.id)).toEqual([next.id]);
  });
});

describe('Spool writes cut short (full disk)', () => {
  it('truncates a short write back, counts its events as dropped, and later lines stay readable', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const fs = require('node:fs') as typeof import('node:fs');
    const spool = new Spool(tempHome(), 1e9, silent);
    const [a, b, c] = [notification(), notification(), notification()];
    spool.append([a]);
    const real = fs.writeSync;
    const spy = jest.spyOn(fs, 'writeSync').mockImplementationOnce(((fd: number, buf: Buffer) => real(fd, buf, 0, Math.floor(buf.length / 2))) as any);
    try {
      expect(spool.append([b])).toBe(false);
    } finally {
      spy.mockRestore();
    }
    expect(spool.append([c])).toBe(true);
    expect(spool.dropped).toBe(1);
    const batch = spool.own.readBatch(100, silent, true)!;
    expect(batch.events.map((e) => e.id)).toEqual([a.id, c.id]);
  });
});
