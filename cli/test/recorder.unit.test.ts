import { readFileSync } from 'node:fs';
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
