import { existsSync, readFileSync } from 'node:fs';
import { Spool } from '../src/spool';
import { Recorder } from '../src/wrap/recorder';
import { notification, silent, tempHome } from './helpers';

describe('Recorder with a full spool', () => {
  it('keeps the session start and end past the bound, and the end counts what the bound dropped', () => {
    const spool = new Spool(tempHome(), 2000, silent);
    const recorder = new Recorder(spool);
    const envelope = { orgId: 'o', projectId: 'p', userId: 'u', machineId: 'm', sessionId: 's1', server: { name: 'x', command: 'x' } };
    const { orgId, projectId, userId, machineId, sessionId, server, ...base } = notification() as any;
    recorder.record({ ...base, type: 'session.started' } as any);
    recorder.setEnvelope(envelope as any);
    for (let i = 0; i < 50; i++) recorder.record({ ...(notification() as any), type: 'mcp.notification' });
    recorder.record({ ...base, id: 'end', type: 'session.ended', exitCode: 0, signal: null, durationMs: 1, droppedObservations: 2 } as any);
    expect(spool.dropped).toBeGreaterThan(0);
    const lines = readFileSync(spool.own.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0].type).toBe('session.started');
    const end = lines[lines.length - 1];
    expect(end.type).toBe('session.ended');
    expect(end.droppedObservations).toBe(2 + spool.dropped);
    expect(lines.length - 2 + spool.dropped).toBe(50);
  });
});

describe('Recorder.whenWritten', () => {
  it('runs once the events recorded so far, and those the current task still makes, are in the spool', async () => {
    const spool = new Spool(tempHome(), 1 << 20, silent);
    const recorder = new Recorder(spool);
    const spooledLines = () => (existsSync(spool.own.path) ? readFileSync(spool.own.path, 'utf8').trim().split('\n').length : 0);
    const seen: number[] = [];
    const { orgId, projectId, userId, machineId, sessionId, server, ...draft } = notification() as any;
    recorder.whenWritten(() => seen.push(spooledLines()));
    recorder.record({ ...draft, id: 'a' }); // made after the call, in the same task: still waited for
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([]); // the envelope is not known yet: the event waits in memory
    recorder.setEnvelope({ orgId: 'o', projectId: 'p', userId: 'u', machineId: 'm', sessionId: 's1', server: { name: 'x', command: 'x' } });
    expect(seen).toEqual([1]);
    recorder.whenWritten(() => seen.push(spooledLines()));
    recorder.record({ ...draft, id: 'b' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([1, 2]);
  });
});
