import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '@km/functions/dist/adapters/api-key-authenticator';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { aSessionOfEvents, anEnvelope, interaction } from '../../functions/test/fixtures';
import { requireBuiltKm, runKm } from './e2e-support';
import { tempHome } from './helpers';

/** km with only PATH and the test's settings: what an MCP client's stripped environment gives. */
const km = (args: string[], env: Record<string, string>) => runKm(args, { PATH: process.env.PATH ?? '', ...env });

const OTHER_KEY = 'km_test_key_of_the_other_org';

describe('km audit export and verify against the real embedded host', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let home: string;
  beforeAll(async () => {
    requireBuiltKm();
    home = tempHome('km-audit');
    host = await startEmbeddedHost({ home, port: 0, additionalApiKeys: [{ keyHash: hashApiKey(OTHER_KEY), orgId: 'other' }] });
    const post = (key: string | null, path: string, body: unknown, method = 'POST') =>
      fetch(`${host.url}/api/${path}`, { method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const mine = anEnvelope({ orgId: 'local', projectId: 'web' });
    const at = new Date(Date.now() - 60_000).toISOString();
    const events = [...aSessionOfEvents(mine, at, 2), interaction(mine, at, { requestId: '7', requestPreview: '{"path":"/etc/passwd","limit":3,"deep":{"a":1}}' })];
    expect((await post(null, 'ingest', { events })).status).toBe(202);
    expect((await post(OTHER_KEY, 'ingest', { events: aSessionOfEvents(anEnvelope({ orgId: 'other', server: { name: 'theirs', command: 'x' } }), at, 2) })).status).toBe(202);
    expect((await post(null, 'budgets/org', { monthlyUsd: 25 }, 'PUT')).status).toBe(202);
  });
  afterAll(() => host?.close());

  it('exports a chain that verifies, and names the first bad record of one tampered with, cut, or reordered', async () => {
    const file = join(home, 'audit.ndjson');
    const exported = await km(['audit', 'export', '--out', file], { KM_HOME: home });
    expect({ status: exported.status, stderr: exported.stderr }).toEqual({ status: 0, stderr: expect.stringContaining(`wrote ${file}`) });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const records = lines.slice(0, -1).map((line) => JSON.parse(line));
    const head = JSON.parse(lines.at(-1)!);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(records.map((r) => r.type)).toEqual(['session.started', 'mcp.interaction', 'mcp.interaction', 'session.ended', 'mcp.interaction', 'budget.set']);
    expect(new Set(records.map((r) => r.event.orgId))).toEqual(new Set(['local']));
    expect(JSON.stringify(records)).not.toContain('theirs');
    // What a call sent appears as its argument keys and kinds, never the text.
    expect(records[4].event.arguments).toEqual({ path: 'string', limit: 'number', deep: 'object' });
    expect(JSON.stringify(records)).not.toContain('/etc/passwd');
    expect(head).toMatchObject({ head: true, orgId: 'local', count: 6, hash: records[5].hash });

    const verified = await km(['audit', 'verify', file, '--org', 'local', '--head', `3:${records[2].hash}`], { KM_HOME: home });
    expect(verified).toMatchObject({ status: 0, stdout: expect.stringContaining('holds: records 1-6 of org "local"') });

    const variant = async (name: string, change: (copy: string[]) => string[]) => {
      const path = join(home, `${name}.ndjson`);
      writeFileSync(path, change([...lines]).join('\n') + '\n');
      return km(['audit', 'verify', path], { KM_HOME: home });
    };
    const tampered = await variant('tampered', (copy) => {
      const record = JSON.parse(copy[1]!);
      record.event.latencyMs = 1;
      copy[1] = JSON.stringify(record);
      return copy;
    });
    expect(tampered).toMatchObject({ status: 1, stdout: expect.stringContaining('record 2: record 2 was changed') });
    const dropped = await variant('dropped', (copy) => copy.filter((_, index) => index !== 2));
    expect(dropped).toMatchObject({ status: 1, stdout: expect.stringContaining('record 4: seq 4 follows 2: records are missing') });
    const reordered = await variant('reordered', (copy) => [copy[0]!, copy[2]!, copy[1]!, ...copy.slice(3)]);
    expect(reordered).toMatchObject({ status: 1, stdout: expect.stringContaining('record 3: seq 3 follows 1') });
    const cut = await variant('cut', (copy) => copy.slice(0, -1));
    expect(cut).toMatchObject({ status: 1, stdout: expect.stringContaining('no signed head at the end') });
    const forgedHead = await variant('forged-head', (copy) => [...copy.slice(0, -1), JSON.stringify({ ...head, count: 5, hash: records[4].hash })]);
    expect(forgedHead).toMatchObject({ status: 1, stdout: expect.stringContaining('the head signature does not hold') });
    // An export whose record 3 is not the one published earlier (a log changed and chained again) is refused.
    const pinnedElsewhere = await km(['audit', 'verify', file, '--head', `3:${'0'.repeat(64)}`], { KM_HOME: home });
    expect(pinnedElsewhere).toMatchObject({ status: 1, stdout: expect.stringContaining('record 3 is not the one published') });
  });

  it('exports a window of the chain, and csv for spreadsheets', async () => {
    const all = (await km(['audit', 'export'], { KM_HOME: home })).stdout.trimEnd().split('\n');
    const budgetAt = JSON.parse(all[5]!).at as string;
    const window = (await km(['audit', 'export', '--from', budgetAt], { KM_HOME: home })).stdout.trimEnd().split('\n');
    expect(window.map((line) => JSON.parse(line).seq ?? 'head')).toEqual([6, 'head']);
    const csv = (await km(['audit', 'export', '--format', 'csv'], { KM_HOME: home })).stdout.trimEnd().split('\n');
    expect(csv[0]).toBe('seq,at,type,actor,projectId,userId,sessionId,server,target,outcome,prevHash,hash');
    expect(csv).toHaveLength(8);
    expect(csv[6]).toMatch(/^6,.*,budget\.set,local,/);
    expect(csv[7]).toMatch(/^# head,6,[0-9a-f]{64},/);
  });

  // Last: the keys it makes are events of the trail the tests above count.
  it("is read only by the roles that manage keys: key.created records carry the key's hash", async () => {
    const make = async (role: string) => {
      const res = await fetch(`${host.url}/api/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role, label: role }) });
      expect(res.status).toBe(200);
      return ((await res.json()) as { key: string }).key;
    };
    const [admin, member, viewer] = [await make('admin'), await make('member'), await make('viewer')];
    const asKey = (key: string) => ({ KM_HOME: home, KM_ENDPOINT: host.url, KM_API_KEY: key });
    for (const [role, key] of [['viewer', viewer], ['member', member]] as const) {
      const refused = await km(['audit', 'export'], asKey(key));
      expect({ role, status: refused.status, stdout: refused.stdout, stderr: refused.stderr }).toEqual({
        role,
        status: 1,
        stdout: '',
        stderr: expect.stringContaining(`GET /api/audit answered 403: this key's role "${role}" may not read the org's audit trail (it holds every key change, with the key's hash) (GET /api/audit): a key of role owner or admin may`),
      });
    }
    const file = join(home, 'audit-by-admin.ndjson');
    expect((await km(['audit', 'export', '--out', file], asKey(admin))).status).toBe(0);
    const created = readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line)).filter((line) => line.type === 'key.created');
    expect(created.map((record) => [record.event.role, record.event.keyHash])).toEqual([
      ['admin', hashApiKey(admin)],
      ['member', hashApiKey(member)],
      ['viewer', hashApiKey(viewer)],
    ]);
    expect(await km(['audit', 'verify', file, '--org', 'local'], { KM_HOME: home })).toMatchObject({ status: 0, stdout: expect.stringContaining('holds') });
  });
});
