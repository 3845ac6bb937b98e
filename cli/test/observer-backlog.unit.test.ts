import type { KmEvent } from '@km/shared';
import { LineFramer } from '../src/wrap/line-framer';
import { SessionObserver, type EventDraft, type ObserveMode, type ObserverPlugin } from '../src/wrap/observer';
import { ObserverQueue, type Chunk, type QueuedBatch } from '../src/wrap/observer-queue';
import { riskPlugin } from '../src/wrap/risk-plugin';
import { tempHome } from './helpers';

/** Issue 11: what the observer makes and counts when it is behind (observer-queue.ts decides the mode). */
function harness(plugins: ObserverPlugin[] = []) {
  const drafts: EventDraft[] = [];
  const observer = new SessionObserver((d) => drafts.push(d), plugins);
  const framers = { client_to_server: new LineFramer(), server_to_client: new LineFramer() };
  const send = (direction: 'client_to_server' | 'server_to_client', message: unknown, mode: ObserveMode = 'full') => {
    for (const frame of framers[direction].push(Buffer.from(JSON.stringify(message) + '\n'), 1)) observer.observe(direction, frame, 0, mode);
  };
  const call = (id: number, modes: [ObserveMode, ObserveMode]) => {
    send('client_to_server', { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `call ${id}` } } }, modes[0]);
    send('server_to_client', { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: `call ${id}` }] } }, modes[1]);
  };
  const ofType = <T extends KmEvent['type']>(type: T) => drafts.filter((d): d is Extract<EventDraft, { type: T }> => d.type === type);
  const end = () => {
    observer.finish({ exitCode: 0, signal: null, startedAt: 0, at: 2 });
    return ofType('session.ended')[0]!;
  };
  return { observer, send, call, ofType, end, drafts };
}

describe('the observer behind the forwarding', () => {
  it('counts each exchange it does not make once, whichever side of it came while dropping, and never loses the end', () => {
    const h = harness();
    h.call(1, ['full', 'full']);
    h.call(2, ['drop', 'drop']);
    h.call(3, ['drop', 'full']); // the request came in the backlog: the answer pairs with it, and is counted with it
    h.call(4, ['full', 'drop']);
    h.send('server_to_client', { jsonrpc: '2.0', method: 'notifications/progress', params: {} }, 'drop');
    h.call(5, ['full', 'full']);
    const ended = h.end();
    expect(h.ofType('mcp.interaction').map((i) => i.requestId)).toEqual(['1', '5']);
    expect(h.ofType('mcp.notification')).toEqual([]);
    expect(h.ofType('protocol.violation')).toEqual([]); // no answer went unpaired
    expect(ended).toMatchObject({ droppedObservations: 4, droppedPreviews: 0 });
  });

  it('leaves previews out before it drops observations, counting each interaction made without them', () => {
    const h = harness([riskPlugin({ capture: 'redacted', home: tempHome('km-backlog'), projectId: 'p', serverName: 's', whenRecorded: (fn) => fn() })]);
    h.call(1, ['full', 'full']);
    h.call(2, ['no-previews', 'no-previews']);
    h.call(3, ['full', 'no-previews']);
    h.call(4, ['drop', 'drop']);
    const ended = h.end();
    const [one, two, three] = h.ofType('mcp.interaction');
    expect(one!.responsePreview).toContain('call 1');
    expect([two!.requestPreview, two!.responsePreview, three!.responsePreview]).toEqual([null, null, null]);
    expect(ended).toMatchObject({ droppedObservations: 1, droppedPreviews: 2 });
  });

  it('counts no dropped previews where the capture mode makes none', () => {
    const h = harness([riskPlugin({ capture: 'metadata', home: tempHome('km-backlog'), projectId: 'p', serverName: 's', whenRecorded: (fn) => fn() })]);
    h.call(1, ['no-previews', 'no-previews']);
    expect(h.end()).toMatchObject({ droppedObservations: 0, droppedPreviews: 0 });
  });

  it('gives up the oldest of more requests than it may keep waiting, counts each, and takes their late answers quietly', () => {
    const h = harness();
    const requests = 10_005;
    for (let id = 0; id < requests; id++) h.send('client_to_server', { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow' } });
    for (let id = 0; id < 5; id++) h.send('server_to_client', { jsonrpc: '2.0', id, result: {} });
    h.send('server_to_client', { jsonrpc: '2.0', id: 9000, result: {} });
    const ended = h.end();
    expect(h.ofType('protocol.violation')).toEqual([]);
    // 5 given up, one answered, the rest unanswered at the end: every request is one interaction or one drop.
    expect(ended.droppedObservations).toBe(5);
    expect(h.ofType('mcp.interaction')).toHaveLength(requests - 5);
    expect(h.ofType('mcp.interaction').filter((i) => i.outcome === 'ok').map((i) => i.requestId)).toEqual(['9000']);
  });
});

describe('the observer queue', () => {
  const chunk = (bytes: number): Chunk[] => [{ direction: 'client_to_server', chunk: Buffer.alloc(bytes, 0x20), at: 0 }];
  function queue(backlogBytes: number, read: (seq: number) => Chunk[] | null = () => chunk(1)) {
    const seen: Array<[number, ObserveMode]> = [];
    const progress: number[] = [];
    const lost: number[] = [];
    const pendingRuns: Array<() => void> = [];
    const q = new ObserverQueue({
      backlogBytes,
      observe: (seq, _chunks, mode) => seen.push([seq, mode]),
      read: (ref) => {
        const chunks = read(Number(ref.path));
        return chunks && { chunks };
      },
      unreadable: (seq) => lost.push(seq),
      progress: (bytes) => progress.push(bytes),
      schedule: (fn) => pendingRuns.push(fn),
      sliceMs: 60_000,
    });
    const runAll = () => {
      while (pendingRuns.length > 0) pendingRuns.shift()!();
    };
    return { q, seen, progress, lost, runAll };
  }
  const byValue = (seq: number, bytes: number): QueuedBatch => ({ seq, bytes, chunks: chunk(bytes) });

  it('makes a batch whole while little waits before it as it comes, then without previews past half the bound, then drops past it', () => {
    const { q, seen, runAll } = queue(100);
    for (let seq = 1; seq <= 7; seq++) q.push(byValue(seq, 30));
    runAll();
    // Before batch 1: nothing; 2: 30 bytes; 3: 60; 4: 90; 5: 120; 6: 150; 7: 180. A session's first batches are made.
    expect(seen).toEqual([
      [1, 'full'],
      [2, 'full'],
      [3, 'no-previews'],
      [4, 'no-previews'],
      [5, 'drop'],
      [6, 'drop'],
      [7, 'drop'],
    ]);
  });

  it('never makes a batch less for a large one that comes after it (a small call before a large answer)', () => {
    const { q, seen, runAll } = queue(200_000);
    q.push(byValue(1, 300));
    q.push(byValue(2, 300_000));
    runAll();
    q.push(byValue(3, 300));
    runAll();
    // Before, batch 1 was judged by the 300 KB behind it and dropped, a session's initialize as well.
    expect(seen).toEqual([
      [1, 'full'],
      [2, 'full'],
      [3, 'full'],
    ]);
  });

  it('never drops the batch after a large one for it alone: the answer to a large request is made', () => {
    const { q, seen, runAll } = queue(200_000);
    q.push(byValue(1, 300_000));
    q.push(byValue(2, 300));
    // Many small batches after it still count as they come.
    for (let seq = 3; seq <= 7; seq++) q.push(byValue(seq, 60_000));
    runAll();
    // Before batch 3: 300 bytes of small ones; 4: 60 KB; 5: 120 KB; 6: 180 KB; 7: 240 KB.
    expect(seen).toEqual([
      [1, 'full'],
      [2, 'full'],
      [3, 'full'],
      [4, 'full'],
      [5, 'no-previews'],
      [6, 'no-previews'],
      [7, 'drop'],
    ]);
  });

  it('makes one batch larger than the whole bound whole when nothing waits behind it', () => {
    const { q, seen, runAll } = queue(10);
    q.push(byValue(1, 1000));
    runAll();
    expect(seen).toEqual([[1, 'full']]);
  });

  it('reads batches by reference in order with the others, counts one it cannot read, and reports bytes by value only', () => {
    const { q, seen, progress, lost, runAll } = queue(1_000_000, (seq) => (seq === 3 ? null : chunk(5)));
    const order: string[] = [];
    q.push(byValue(1, 10));
    q.push({ seq: 2, bytes: 5, ref: { path: '2', offset: 0, length: 5 } });
    q.push({ seq: 3, bytes: 5, ref: { path: '3', offset: 0, length: 5 } });
    q.then(() => order.push(`control after ${seen.length}`));
    q.push(byValue(4, 20));
    runAll();
    expect(seen.map(([seq]) => seq)).toEqual([1, 2, 4]);
    expect(lost).toEqual([3]);
    expect(order).toEqual(['control after 2']);
    expect(progress.at(-1)).toBe(30);
    expect(q.backlog).toBe(0);
  });
});
