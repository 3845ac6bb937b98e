import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '@km/functions/dist/adapters/api-key-authenticator';
import { auditSigner, genesisHash, newAuditKeyPem, recordHash } from '@km/functions/dist/audit/audit-chain';
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
    // A head the export cannot hold (a later one, kept from another export) is not checked: not proven, not "holds".
    const later = await km(['audit', 'verify', file, '--head', `9:${'ab'.repeat(32)}`], { KM_HOME: home });
    expect(later).toMatchObject({ status: 3, stdout: expect.stringContaining("NOT proven to hold the --head given: record 9 is not in this export: it comes after this export's head (a chain of 6)") });
  });

  it('refuses a forged export: records dropped, the rest renumbered and chained again, and a head signed with a key of the forger', async () => {
    const file = join(home, 'genuine.ndjson');
    expect((await km(['audit', 'export', '--out', file], { KM_HOME: home })).status).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const genuineHead = JSON.parse(lines.at(-1)!);
    // What a forger's script does: keep the records they like, renumber and chain them as audit-chain.ts does, and
    // sign a head over them, range and all, with a fresh Ed25519 key.
    let prevHash = genesisHash('local');
    const kept = lines.slice(0, -1).map((line) => JSON.parse(line)).filter((record) => record.type !== 'mcp.interaction');
    const forgedRecords = kept.map((record, index) => {
      const unhashed = { seq: index + 1, at: record.at, type: record.type, event: record.event, prevHash };
      prevHash = recordHash(unhashed);
      return { ...unhashed, hash: prevHash };
    });
    const last = forgedRecords.at(-1)!;
    const fields = { orgId: 'local', count: last.seq, hash: last.hash, signedAt: new Date().toISOString(), checkpoint: null, range: { from: null, to: null, firstSeq: 1, lastSeq: last.seq, lastHash: last.hash } };
    const forger = auditSigner(newAuditKeyPem());
    const forged = join(home, 'forged.ndjson');
    writeFileSync(forged, [...forgedRecords, { head: true, ...fields, publicKey: forger.publicKey, signature: forger.sign(fields) }].map((line) => JSON.stringify(line)).join('\n') + '\n');

    // On the server's own machine its key (KM_HOME/audit-signing-key.pem) is the one trusted, with or without --org.
    for (const args of [[], ['--org', 'local']]) {
      const refused = await km(['audit', 'verify', forged, ...args], { KM_HOME: home });
      expect(refused).toMatchObject({ status: 1, stdout: expect.stringMatching(/does NOT hold: its head is signed by key SHA256:\S+, not by SHA256:\S+, this machine's km serve \(.*audit-signing-key\.pem\)/) });
      expect(refused.stdout).not.toContain('holds:');
    }
    const genuine = await km(['audit', 'verify', file], { KM_HOME: home });
    expect(genuine).toMatchObject({ status: 0, stdout: expect.stringMatching(/holds: records 1-\d+ of org "local", .*exactly the records its head signs \(the whole chain asked\), signed by key SHA256:\S+, this machine's km serve/) });

    // Elsewhere (a KM_HOME of its own, no login) nothing vouches for either file's key: intact, but not proven.
    const elsewhere = tempHome('km-audit-auditor');
    for (const path of [file, forged]) {
      const unproven = await km(['audit', 'verify', path], { KM_HOME: elsewhere });
      expect(unproven).toMatchObject({ status: 3, stdout: expect.stringContaining('is NOT proven: the chain is intact') });
      expect(unproven.stdout).toContain('nothing here vouches for it');
      expect(unproven.stdout).not.toContain('holds');
    }

    // The server's key, pinned: from km audit key where the server is trusted, as a PEM file or its fingerprint.
    const pem = join(elsewhere, 'server-audit-key.pem');
    const shown = await km(['audit', 'key', '--out', pem], { KM_HOME: home });
    expect(shown).toMatchObject({ status: 0, stdout: expect.stringMatching(/^SHA256:[A-Za-z0-9+/]{43}\n$/), stderr: expect.stringContaining("this machine's km serve") });
    const fingerprint = shown.stdout.trim();
    expect(readFileSync(pem, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    for (const key of [pem, fingerprint]) {
      expect(await km(['audit', 'verify', file, '--key', key], { KM_HOME: elsewhere })).toMatchObject({ status: 0, stdout: expect.stringContaining(`signed by key ${fingerprint}`) });
      expect(await km(['audit', 'verify', forged, '--key', key], { KM_HOME: elsewhere })).toMatchObject({ status: 1, stdout: expect.stringContaining(`not by ${fingerprint}`) });
    }
    // --key is the only key trusted, even on the server's machine: the forger's own key "verifies" only their file.
    const forgerKey = join(elsewhere, 'forger.key');
    writeFileSync(forgerKey, forger.publicKey);
    expect(await km(['audit', 'verify', file, '--key', forgerKey], { KM_HOME: home })).toMatchObject({ status: 1, stdout: expect.stringContaining('does NOT hold: its head is signed by key') });

    // Logged in to the server (here as the other org's key): its GET /api/audit/key is the key trusted.
    const loggedIn = { KM_HOME: elsewhere, KM_ENDPOINT: host.url, KM_API_KEY: OTHER_KEY };
    expect(await km(['audit', 'key'], loggedIn)).toMatchObject({ status: 0, stdout: `${fingerprint}\n`, stderr: expect.stringContaining(`the server km is logged in to (${host.url})`) });
    expect(await km(['audit', 'verify', file], loggedIn)).toMatchObject({ status: 0, stdout: expect.stringContaining(`the server km is logged in to (${host.url})`) });
    expect(await km(['audit', 'verify', forged], loggedIn)).toMatchObject({ status: 1, stdout: expect.stringContaining(`not by ${fingerprint}, the server km is logged in to`) });
    expect(genuineHead.publicKey).not.toBe(forger.publicKey);

    // A server reached over plain http from another machine is not asked: anyone on the way could answer their own key.
    const overHttp = await km(['audit', 'verify', file], { KM_HOME: elsewhere, KM_ENDPOINT: 'http://audit.example.invalid:7777', KM_API_KEY: OTHER_KEY });
    expect(overHttp).toMatchObject({ status: 3, stdout: expect.stringContaining('(http://audit.example.invalid:7777) was not asked: it is not https and not a loopback address') });
    // The local key is not the head's and the server cannot be asked: not proven either way (3), not "does NOT hold".
    const unreachable = await km(['audit', 'verify', forged], { KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_API_KEY: OTHER_KEY });
    expect(unreachable).toMatchObject({ status: 3, stdout: expect.stringMatching(/is NOT proven: .*not signed by SHA256:\S+, this machine's km serve .*127\.0\.0\.1:9/) });
  });

  it('exits 2 when it cannot check: a missing file or argument, a --key it cannot read, a malformed --head', async () => {
    const file = join(home, 'for-usage.ndjson');
    expect((await km(['audit', 'export', '--out', file], { KM_HOME: home })).status).toBe(0);
    expect(await km(['audit', 'verify', join(home, 'no-such.ndjson')], { KM_HOME: home })).toMatchObject({ status: 2, stderr: expect.stringContaining('no such file') });
    expect(await km(['audit', 'verify', file, '--key', join(home, 'no-such.pem')], { KM_HOME: home })).toMatchObject({ status: 2, stderr: expect.stringContaining('no such file') });
    expect(await km(['audit', 'verify', file, '--head', '3:abc'], { KM_HOME: home })).toMatchObject({ status: 2, stderr: expect.stringContaining('give the seq and hash') });
    expect((await km(['audit', 'verify'], { KM_HOME: home })).status).toBe(2);
    expect(await km(['audit', 'verify', home], { KM_HOME: home })).toMatchObject({ status: 2, stderr: expect.stringContaining(`cannot read ${home}: not a file`) });
    // This machine's key cannot be read: verify cannot check, which is not the file failing to hold.
    const brokenHome = tempHome('km-audit-broken-key');
    writeFileSync(join(brokenHome, 'audit-signing-key.pem'), 'garbage');
    expect(await km(['audit', 'verify', file], { KM_HOME: brokenHome })).toMatchObject({ status: 2, stderr: expect.stringContaining("cannot read this machine's audit key") });
    // Help and version are answers, not errors; a command group without its command is a usage error.
    for (const args of [['--version'], ['--help'], ['audit', 'verify', '--help'], ['help', 'audit']]) expect({ args, status: (await km(args, { KM_HOME: home })).status }).toEqual({ args, status: 0 });
    expect((await km(['audit'], { KM_HOME: home })).status).toBe(2);
    // The same file checked for real: 0, so the 2s above were the arguments'.
    expect((await km(['audit', 'verify', file], { KM_HOME: home })).status).toBe(0);
  });

  it('refuses an export cut at its end or its start, and says an export from before signed ranges is not proven complete', async () => {
    const file = join(home, 'whole.ndjson');
    expect((await km(['audit', 'export', '--out', file], { KM_HOME: home })).status).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const records = lines.slice(0, -1).map((line) => JSON.parse(line));
    const head = JSON.parse(lines.at(-1)!);
    expect(head.range).toEqual({ from: null, to: null, firstSeq: 1, lastSeq: records.length, lastHash: records.at(-1).hash });
    const variant = async (name: string, kept: string[]) => {
      const path = join(home, `${name}.ndjson`);
      writeFileSync(path, kept.join('\n') + '\n');
      return km(['audit', 'verify', path], { KM_HOME: home });
    };
    expect(await variant('newest-cut', [...lines.slice(0, 3), lines.at(-1)!])).toMatchObject({
      status: 1,
      stdout: expect.stringContaining(`record 3: the export ends at record 3, the signed head says it holds records 1-${records.length}: records were cut from its end`),
    });
    expect(await variant('oldest-cut', lines.slice(2))).toMatchObject({ status: 1, stdout: expect.stringContaining('the export starts at record 3, the signed head says it holds records 1-') });

    // A window asked with --from holds: its range is signed.
    const window = join(home, 'window.ndjson');
    expect((await km(['audit', 'export', '--from', records[4].at, '--out', window], { KM_HOME: home })).status).toBe(0);
    expect(await km(['audit', 'verify', window], { KM_HOME: home })).toMatchObject({ status: 0, stdout: expect.stringContaining(`exactly the records its head signs (the window asked, ${records[4].at} to the end)`) });

    // A head km signed before ranges (the old text, with this server's key) still reads, but proves no completeness.
    const { range: _range, signature: _signature, ...old } = head;
    const text = `${old.orgId}|${old.count}|${old.hash}|${old.signedAt}|genesis`;
    const legacy = { ...old, signature: sign(null, Buffer.from(text), createPrivateKey(readFileSync(join(home, 'audit-signing-key.pem'), 'utf8'))).toString('base64') };
    for (const kept of [records, records.slice(0, 3)]) {
      const verdict = await variant('legacy', [...kept.map((record) => JSON.stringify(record)), JSON.stringify(legacy)]);
      // The whole chain links up to the signed hash; a file that ends before it is tied to nothing signed.
      const whole = kept.length === records.length;
      expect(verdict).toMatchObject({
        status: 3,
        stdout: expect.stringContaining(whole ? `is NOT proven complete: records 1-${kept.length} of org "local" link up to the hash the head signs` : `is NOT proven: nothing ties records 1-${kept.length} to the head`),
      });
      expect(verdict.stdout).toContain('it predates signed ranges');
      expect(verdict.stdout).not.toContain('holds');
    }
  });

  it('exports a window of the chain, and csv for spreadsheets', async () => {
    const all = (await km(['audit', 'export'], { KM_HOME: home })).stdout.trimEnd().split('\n');
    const budgetAt = JSON.parse(all[5]!).at as string;
    const window = (await km(['audit', 'export', '--from', budgetAt], { KM_HOME: home })).stdout.trimEnd().split('\n');
    expect(window.map((line) => JSON.parse(line).seq ?? 'head')).toEqual([6, 'head']);
    const csv = (await km(['audit', 'export', '--format', 'csv'], { KM_HOME: home })).stdout.trimEnd().split('\n');
    expect(csv[0]).toBe('seq,at,type,actor,projectId,userId,sessionId,server,target,outcome,details,prevHash,hash');
    expect(csv).toHaveLength(8);
    expect(csv[6]).toMatch(/^6,.*,budget\.set,local,/);
    // An admin action says what it was about (its amount and scope), not only its type and actor.
    expect(csv[6]).toMatch(/""monthlyUsd"":\d/);
    expect(csv[7]).toMatch(/^# head,6,[0-9a-f]{64},/);
    // A CSV is for reading: verify says it cannot check one (2), where it said the file did not hold (1, tampering).
    const file = join(home, 'trail.csv');
    const written = await km(['audit', 'export', '--format', 'csv', '--out', file], { KM_HOME: home });
    expect(written.stderr).toContain('km audit verify checks an ndjson export');
    const verified = await km(['audit', 'verify', file], { KM_HOME: home });
    expect([verified.status, verified.stderr]).toEqual([2, expect.stringContaining('it is a CSV export, for reading')]);
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
