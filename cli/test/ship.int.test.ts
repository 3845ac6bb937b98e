import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingestRoute, whoamiRoute, type KmEvent } from '@km/shared';
import { INGEST_PATH, ShipQueue, Shipper, WHOAMI_PATH } from '../src/ship';
import { Spool } from '../src/spool';
import { deadPid, notification, silent, tempHome } from './helpers';

type Reply = (events: KmEvent[], req: IncomingMessage) => { status: number; body: unknown };

/** A real HTTP ingest stand-in whose answers the test scripts. */
async function ingestStub(reply: Reply): Promise<{ url: string; received: KmEvent[][]; server: Server }> {
  const received: KmEvent[][] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const events = (JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()) as { events: KmEvent[] }).events;
      received.push(events);
      const { status, body } = reply(events, req);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

function setup(url: string) {
  const home = tempHome();
  const spool = new Spool(home, 1e9, silent);
  const shipper = new Shipper(spool, () => ({ endpoint: url, apiKey: 'k1' }), silent);
  return { home, spool, shipper, queue: new ShipQueue(spool, shipper) };
}

describe('Shipper', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  it('posts gzip batches with the API key and acknowledges them', async () => {
    let auth = '';
    const stub = await ingestStub((events, req) => {
      auth = req.headers.authorization ?? '';
      return { status: 202, body: { accepted: events.length } };
    });
    servers.push(stub.server);
    const { spool, queue } = setup(stub.url);
    const events = Array.from({ length: 1200 }, () => notification());
    spool.append(events);
    expect(await queue.pass()).toBe('shipped');
    expect(auth).toBe('Bearer k1');
    expect(stub.received.flat().map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(stub.received.every((b) => b.length <= 500)).toBe(true);
    expect(spool.own.fullyShipped()).toBe(true);
  });

  it('quarantines exactly the events the server names and ships the rest', async () => {
    const stub = await ingestStub((events) =>
      events.some((e) => e.sessionId === 'bad') ? { status: 400, body: { error: 'invalid batch', issues: events.flatMap((e, index) => (e.sessionId === 'bad' ? [{ index, path: `events[${index}].sessionId`, message: 'bad' }] : [])) } } : { status: 202, body: {} },
    );
    servers.push(stub.server);
    const { home, spool, queue } = setup(stub.url);
    const good = [notification(), notification()];
    const bad = notification('bad');
    spool.append([good[0]!, bad, good[1]!]);
    expect(await queue.pass()).toBe('shipped');
    expect(stub.received.at(-1)!.map((e) => e.id)).toEqual(good.map((e) => e.id));
    expect(readFileSync(join(home, 'spool', 'rejected.jsonl'), 'utf8')).toContain(bad.id);
  });

  it('halves a batch the server finds too large until each part fits', async () => {
    const stub = await ingestStub((events) => (events.length > 100 ? { status: 413, body: { error: 'too large' } } : { status: 202, body: {} }));
    servers.push(stub.server);
    const { spool, queue } = setup(stub.url);
    const events = Array.from({ length: 300 }, () => notification());
    spool.append(events);
    expect(await queue.pass()).toBe('shipped');
    const stored = stub.received.filter((b) => b.length <= 100).flat();
    expect(stored.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it('keeps everything in the spool and backs off when nothing listens or the server fails', async () => {
    const stub = await ingestStub(() => ({ status: 503, body: { error: 'busy' } }));
    servers.push(stub.server);
    const { spool, shipper, queue } = setup(stub.url);
    spool.append([notification()]);
    expect(await queue.pass()).toBe('server-error');
    expect(shipper.due()).toBe(false);
    expect(spool.own.fullyShipped()).toBe(false);

    const closed = setup('http://127.0.0.1:1');
    closed.spool.append([notification()]);
    expect(await closed.queue.pass()).toBe('unreachable');
    expect(closed.shipper.lastFailure).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:1: /);
    expect(closed.spool.own.fullyShipped()).toBe(false);
  });

  it('says what a failing server answered (status and error), not that it was unreachable', async () => {
    const answers = [{ status: 500, body: { error: 'the event log is unavailable right now' } }, { status: 502, body: null }];
    const stub = await ingestStub(() => answers.shift() ?? { status: 202, body: {} });
    servers.push(stub.server);
    const warned: string[] = [];
    const spool = new Spool(tempHome(), 1e9, silent);
    const shipper = new Shipper(spool, () => ({ endpoint: stub.url, apiKey: 'k1' }), { ...silent, warn: (m: string) => warned.push(m) });
    const queue = new ShipQueue(spool, shipper);
    spool.append([notification()]);
    expect(await queue.pass()).toBe('server-error');
    expect(shipper.lastFailure).toBe(`${stub.url} answered 500: the event log is unavailable right now`);
    expect(await queue.pass()).toBe('server-error');
    expect(shipper.lastFailure).toBe(`${stub.url} answered 502 (no error message)`);
    expect(warned).toEqual([expect.stringMatching(/answered 500: the event log is unavailable right now; events stay in the spool, retry in \d+ ms$/), expect.stringMatching(/answered 502 \(no error message\); events stay/)]);
    expect(await queue.pass()).toBe('shipped'); // still retried, and nothing lost
    expect(spool.own.fullyShipped()).toBe(true);
  });

  it('stops on a refused key without losing anything', async () => {
    const stub = await ingestStub(() => ({ status: 401, body: { error: 'unknown API key' } }));
    servers.push(stub.server);
    const { spool, shipper, queue } = setup(stub.url);
    spool.append([notification()]);
    expect(await queue.pass()).toBe('unauthorized');
    expect(shipper.due()).toBe(false);
    expect(spool.own.fullyShipped()).toBe(false);
  });

  it('waits out a refused key only while the endpoint and key stay the same (km login, a km serve on another port)', async () => {
    const refusing = await ingestStub(() => ({ status: 401, body: { error: 'unknown API key' } }));
    const accepting = await ingestStub(() => ({ status: 202, body: {} }));
    servers.push(refusing.server, accepting.server);
    const home = tempHome();
    const spool = new Spool(home, 1e9, silent);
    let target = { endpoint: refusing.url, apiKey: 'k1' };
    const shipper = new Shipper(spool, () => target, silent);
    const queue = new ShipQueue(spool, shipper);
    spool.append([notification()]);
    expect(await queue.pass()).toBe('unauthorized');
    expect(shipper.due()).toBe(false);
    // The new target fails in its own way: its backoff holds, not the refusal's end (no retry every second).
    target = { endpoint: 'http://127.0.0.1:1', apiKey: 'k1' };
    expect(shipper.due()).toBe(true);
    expect(await queue.pass()).toBe('unreachable');
    expect(shipper.due()).toBe(false);
    target = { endpoint: accepting.url, apiKey: 'k1' };
    expect(await queue.pass()).toBe('shipped');
    expect(accepting.received.flat()).toHaveLength(1);
  });

  it('sends nothing to the default address when no km serve runs for its KM_HOME, and ships once one does', async () => {
    // Another KM_HOME's km serve on the default address must get neither this one's key nor its events.
    const elsewhere = await ingestStub(() => ({ status: 202, body: {} }));
    const mine = await ingestStub(() => ({ status: 202, body: {} }));
    servers.push(elsewhere.server, mine.server);
    const home = tempHome();
    const spool = new Spool(home, 1e9, silent);
    let target: { endpoint: string; apiKey: string; notRunning?: string } = { endpoint: elsewhere.url, apiKey: 'k1', notRunning: `km serve is not running for ${home} (no serve.json there)` };
    const shipper = new Shipper(spool, () => target, silent);
    spool.append([notification()]);
    expect(await new ShipQueue(spool, shipper).pass()).toBe('unreachable');
    expect(shipper.lastFailure).toBe(`km serve is not running for ${home} (no serve.json there)`);
    expect(elsewhere.received).toEqual([]);
    target = { endpoint: mine.url, apiKey: 'k1' };
    expect(await new ShipQueue(spool, shipper).pass()).toBe('shipped');
    expect(mine.received.flat()).toHaveLength(1);
  });

  it('sets a file refused for its key (403) aside so newer files ship, and retries it on request', async () => {
    let key = 'other-tenant';
    const stub = await ingestStub((_events, req) =>
      req.headers.authorization === 'Bearer right' ? { status: 200, body: {} } : { status: 403, body: { error: 'key of another org' } },
    );
    servers.push(stub.server);
    const home = tempHome();
    const spool = new Spool(home, 1e9, silent);
    const shipper = () => new Shipper(spool, () => ({ endpoint: stub.url, apiKey: key }), silent);
    const dir = join(home, 'spool');
    const [old, newer] = [notification(), notification()];
    writeFileSync(join(dir, `1-1-aaaaaa.${deadPid()}.jsonl`), JSON.stringify(old) + '\n');
    const first = new ShipQueue(spool, shipper());
    expect(await first.pass({ includeOwn: false })).toBe('unauthorized');
    expect(first.setAside).toBe(1);
    expect(spool.refused()).toEqual([{ spoolId: '1-1-aaaaaa', bytes: Buffer.byteLength(JSON.stringify(old)) + 1, reason: expect.stringContaining('403: key of another org') }]);
    expect(spool.measure()).toBe(0); // set aside: out of the bound's count and of the claim path

    key = 'right';
    writeFileSync(join(dir, `2-2-bbbbbb.${deadPid()}.jsonl`), JSON.stringify(newer) + '\n');
    expect(await new ShipQueue(spool, shipper()).pass({ includeOwn: false })).toBe('shipped');
    expect(stub.received.flat().filter((e) => e.id === newer.id)).toHaveLength(1);
    expect(stub.received.flat().some((e) => e.id === old.id && stub.received.length > 0)).toBe(true); // the 403'd attempt
    expect(spool.refused()).toHaveLength(1);

    const retry = new ShipQueue(spool, shipper());
    expect(await retry.pass({ includeOwn: false, retryRefused: true })).toBe('shipped');
    expect(retry.shipper.shippedEvents).toBe(1);
    expect(spool.refused()).toEqual([]);
    expect(readdirSync(dir).filter((n) => n.startsWith('1-1-aaaaaa'))).toEqual([]);
    expect(existsSync(join(dir, 'rejected.jsonl'))).toBe(false);
  });
});

describe('events stamped with no org set (a KM_API_KEY without KM_ORG)', () => {
  /** An API of org "acme" whose key is "k1": whoami says so, and ingest refuses events naming another org, as ours does. */
  async function acmeApi() {
    const received: KmEvent[][] = [];
    let whoamiAsked = 0;
    const server = createServer((req, res) => {
      const answer = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.headers.authorization !== 'Bearer k1') return void answer(401, { error: 'unknown API key' });
      if (req.method === 'GET' && req.url === '/api/whoami') {
        whoamiAsked++;
        return void answer(200, { orgId: 'acme', role: 'member', projectId: null, actor: 'key:x' });
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const events = (JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()) as { events: KmEvent[] }).events;
        if (events.some((e) => e.orgId !== 'acme')) return void answer(403, { error: 'events name another orgId than the key\'s' });
        received.push(events);
        answer(202, { accepted: events.length });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server, asked: () => whoamiAsked };
  }

  it("ships the own session's as the key's org (GET /api/whoami, asked once), and no other events", async () => {
    const api = await acmeApi();
    try {
      const home = tempHome();
      const spool = new Spool(home, 1e9, silent);
      const shipper = new Shipper(spool, () => ({ endpoint: api.url, apiKey: 'k1' }), silent, { placeholderOrg: 'local', sessionId: 's1' });
      const events = Array.from({ length: 700 }, () => notification('s1'));
      spool.append(events);
      expect(await new ShipQueue(spool, shipper).pass()).toBe('shipped');
      expect(api.received.flat().map((e) => [e.id, e.orgId])).toEqual(events.map((e) => [e.id, 'acme']));
      expect(api.asked()).toBe(1);

      // Another session's (a replayed journal, an orphan file: maybe recorded with another key), an org that was
      // set (KM_ORG or km login), and a shipper with no session of its own (km flush): each stays as stamped.
      for (const [event, own] of [
        [notification('s2'), { placeholderOrg: 'local', sessionId: 's1' }],
        [{ ...notification('s1'), orgId: 'beta' }, { placeholderOrg: 'local', sessionId: 's1' }],
        [notification('s1'), null],
      ] as const) {
        const other = new Spool(tempHome(), 1e9, silent);
        other.append([event]);
        expect(await new ShipQueue(other, new Shipper(other, () => ({ endpoint: api.url, apiKey: 'k1' }), silent, own)).pass()).toBe('unauthorized');
      }
      expect(api.received.flat()).toHaveLength(700);
    } finally {
      api.server.close();
    }
  });

  it("waits, rather than sends them stamped local, while the key's org is not known (whoami does not answer)", async () => {
    let up = false;
    const server = createServer((req, res) => {
      if (req.url === '/api/whoami') return void (up ? res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ orgId: 'acme' })) : res.writeHead(503).end('{}'));
      req.resume();
      req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const spool = new Spool(tempHome(), 1e9, silent);
      spool.append([notification('s1')]);
      const shipper = new Shipper(spool, () => ({ endpoint: url, apiKey: 'k1' }), silent, { placeholderOrg: 'local', sessionId: 's1' });
      expect(await new ShipQueue(spool, shipper).pass()).toBe('unreachable');
      expect(spool.refused()).toEqual([]);
      up = true;
      expect(await new ShipQueue(spool, new Shipper(spool, () => ({ endpoint: url, apiKey: 'k1' }), silent, { placeholderOrg: 'local', sessionId: 's1' })).pass()).toBe('shipped');
    } finally {
      server.close();
    }
  });
});

describe('the paths the shipper asks', () => {
  it('are the contract\'s', () => {
    expect(INGEST_PATH).toBe(ingestRoute.path);
    expect(WHOAMI_PATH).toBe(whoamiRoute.path);
  });
});
