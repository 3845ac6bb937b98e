import fc from 'fast-check';
import { captureMode, policyConfig, readPolicy } from '../src/config/project-config';
import { Policy, globMatcher } from '../src/wrap/policy';
import { PassThrough } from 'node:stream';
import { ServerStream, startPolicyGate } from '../src/wrap/policy-gate';

const policyOf = (raw: unknown, server = 'fs') => new Policy(policyConfig({ policy: raw })!, server);

describe('km.json policy', () => {
  it('is absent when empty or malformed, so the plain pipes stay', () => {
    expect(policyConfig(null)).toBeNull();
    expect(policyConfig({ policy: {} })).toBeNull();
    expect(policyConfig({ policy: 'deny everything' })).toBeNull();
    expect(policyConfig({ policy: { deny: { tools: [42] } } })).toBeNull();
  });

  it('of the wrong shape cannot be used: readPolicy names the field, so tool calls are refused rather than let through', () => {
    const file = (policy: unknown) => ({ dir: '/p', config: { project: 'x', policy }, problem: null });
    for (const [policy, field] of [
      ['deny echo', 'policy must be an object'],
      [{ deny: { tools: 'echo' } }, 'policy.deny.tools must be a list'],
      [{ deny: { tool: ['echo'] } }, 'policy.deny.tool is not a field of policy.deny'],
      [{ allow: { tools: 'x' } }, 'policy.allow.tools must be a list'],
      [{ allow: { arguments: ['*'] } }, 'policy.allow.arguments is not a field'],
      [{ denny: { tools: ['echo'] } }, 'policy.denny is not a policy field'],
      [{ deny: ['echo'] }, 'policy.deny must be an object'],
      [{ deny: { tools: ['echo', 42] } }, 'policy.deny.tools must be a list of non-empty strings'],
      [{ deny: { tools: [''] } }, 'policy.deny.tools must be a list of non-empty strings'],
      [{ blockSecrets: 'yes' }, 'policy.blockSecrets must be true or false'],
    ] as Array<[unknown, string]>) {
      expect(readPolicy(file(policy))).toEqual({ policy: null, problem: expect.stringContaining(`/p/km.json: ${field}`) });
    }
    expect(readPolicy(file({ deny: { tools: ['echo'] }, allow: { servers: [] }, blockSecrets: false }))).toEqual({ policy: expect.objectContaining({ denyTools: ['echo'], allowServers: [] }), problem: null });
    expect(readPolicy(file(undefined))).toEqual({ policy: null, problem: null });
    expect(readPolicy(null)).toEqual({ policy: null, problem: null });
    expect(readPolicy({ dir: '/p', config: {}, problem: '/p/km.json:1:2: not valid JSON' })).toEqual({ policy: null, problem: '/p/km.json:1:2: not valid JSON' });
  });

  it('matches globs on whole names', () => {
    expect(globMatcher('delete_*')('delete_file')).toBe(true);
    expect(globMatcher('delete_*')('undelete_file')).toBe(false);
    expect(globMatcher('git.push?')('git.push!')).toBe(true);
    expect(globMatcher('a.b')('axb')).toBe(false);
  });

  it('decides requests: servers, tools, allow lists, arguments, secrets', () => {
    expect(policyOf({ deny: { servers: ['f*'] } }).request('initialize', {})).toMatchObject({ ruleId: 'policy-deny-server' });
    expect(policyOf({ allow: { servers: ['github'] } }).request('tools/list', {})).toMatchObject({ ruleId: 'policy-server-not-allowed' });
    const tools = policyOf({ deny: { tools: ['write_*'] }, allow: { tools: ['read_*', 'write_*'] } });
    expect(tools.request('tools/call', { name: 'write_file' })).toMatchObject({ ruleId: 'policy-deny-tool', reason: expect.stringContaining('"write_*"') });
    expect(tools.request('tools/call', { name: 'move_file' })).toMatchObject({ ruleId: 'policy-tool-not-allowed' });
    expect(tools.request('tools/call', { name: 'read_file' })).toBeNull();
    expect(tools.request('tools/list', undefined)).toBeNull();
    expect(tools.visibleTools([{ name: 'read_file' }, { name: 'write_file' }, { name: 'move_file' }])).toEqual([{ name: 'read_file' }]);
    expect(tools.visibleTools([{ name: 'read_file' }])).toBeNull();
    const args = policyOf({ deny: { arguments: ['*rm -rf*'] } });
    expect(args.request('tools/call', { name: 'shell', arguments: { cmd: ['ls', 'sudo rm -rf /'] } })).toMatchObject({ ruleId: 'policy-deny-argument' });
    const secrets = policyOf({ blockSecrets: true });
    expect(secrets.request('tools/call', { name: 'x', arguments: { t: ['ghp_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A'].join('') } })).toMatchObject({ ruleId: 'policy-secret-in-request' });
    expect(secrets.request('tools/call', { name: 'x', arguments: { email: 'a@b.co' } })).toBeNull();
  });

  it('capture mode: KM_CAPTURE, then km.json, then redacted', () => {
    expect(captureMode({}, null)).toBe('redacted');
    expect(captureMode({}, { capture: 'metadata' })).toBe('metadata');
    expect(captureMode({ KM_CAPTURE: 'FULL' }, { capture: 'metadata' })).toBe('full');
    expect(captureMode({ KM_CAPTURE: 'bogus' }, { capture: 'nonsense' })).toBe('redacted');
  });
});

describe('the server stream of the policy gate', () => {
  const make = (policy = policyOf({ deny: { tools: ['delete_*'] } })) => {
    const written: Buffer[] = [];
    return { stream: new ServerStream(policy, (b) => written.push(Buffer.from(b))), out: () => Buffer.concat(written).toString() };
  };

  it('never writes an injected line inside a partial server line', () => {
    const { stream, out } = make();
    stream.push(Buffer.from('{"jsonrpc":"2.0","id":1,"res'));
    stream.inject(Buffer.from('{"km":1}\n'));
    expect(out()).toBe('{"jsonrpc":"2.0","id":1,"res');
    stream.push(Buffer.from('ult":{}}\n{"partial'));
    expect(out()).toBe('{"jsonrpc":"2.0","id":1,"result":{}}\n{"km":1}\n{"partial');
  });

  it('property: any chunking and any injection points keep every line whole and every byte in order', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z]{0,8}$/), { maxLength: 8 }), fc.array(fc.nat(40), { maxLength: 6 }), fc.array(fc.nat(40), { maxLength: 6 }), (lines, cuts, injectAt) => {
        const { stream, out } = make();
        const text = lines.map((l) => `${l}\n`).join('');
        const points = [...new Set([...cuts, ...injectAt].map((c) => Math.min(c, text.length)))].sort((a, b) => a - b);
        let last = 0;
        let injected = 0;
        for (const p of points) {
          stream.push(Buffer.from(text.slice(last, p)));
          last = p;
          if (injectAt.includes(p)) {
            stream.inject(Buffer.from('INJECTED\n'));
            injected++;
          }
        }
        stream.push(Buffer.from(text.slice(last)));
        stream.end();
        const outLines = out().split('\n').slice(0, -1);
        expect(outLines.filter((l) => l === 'INJECTED')).toHaveLength(injected);
        expect(outLines.filter((l) => l !== 'INJECTED')).toEqual(lines);
      }),
    );
  });

  it('removes denied tools from the answer to a tools/list it saw asked, even split across chunks', () => {
    const { stream, out } = make();
    stream.pendingToolsLists.add('7');
    const answer = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools: [{ name: 'read' }, { name: 'delete_all' }] } }) + '\n';
    stream.push(Buffer.from(answer.slice(0, 20)));
    expect(out()).toBe('');
    stream.push(Buffer.from(answer.slice(20)));
    expect(JSON.parse(out())).toEqual({ jsonrpc: '2.0', id: 7, result: { tools: [{ name: 'read' }] } });
    // Other lines pass untouched and at once.
    stream.push(Buffer.from('{"id":8,"result":{"tools":[{"name":"delete_all"}]}}\n'));
    expect(out()).toContain('{"id":8,"result":{"tools":[{"name":"delete_all"}]}}\n');
  });
});

describe('the client stream of the policy gate', () => {
  it('answers every request of a batch it refuses, so the client never waits for an id', async () => {
    const [clientIn, clientOut, childIn, childOut] = [new PassThrough(), new PassThrough(), new PassThrough(), new PassThrough()];
    const toServer: Buffer[] = [];
    const toClient: Buffer[] = [];
    childIn.on('data', (c: Buffer) => toServer.push(c));
    clientOut.on('data', (c: Buffer) => toClient.push(c));
    const seen: string[] = [];
    const blocked: Array<{ target: string | null; requestIds: string[] }> = [];
    const tap = (direction: 0 | 1) => seen.push(`tap ${direction}`);
    startPolicyGate(policyOf({ deny: { tools: ['delete_*'] } }), { clientIn, clientOut, childIn, childOut, tap, blocked: (b) => (seen.push('blocked'), blocked.push(b)) });
    clientIn.write(JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_file', arguments: {} } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'delete_all', arguments: {} } },
    ]) + '\n');
    await new Promise((r) => setImmediate(r));
    expect(toServer).toEqual([]);
    const answer = JSON.parse(Buffer.concat(toClient).toString()) as Array<{ id: number; error: { code: number; message: string } }>;
    expect(answer.map((a) => a.id).sort()).toEqual([1, 2]);
    expect(answer.every((a) => a.error.code === -32001 && a.error.message.startsWith('km policy:'))).toBe(true);
    // The observer is told which ids km answered (the refused one and its batch-mate) before it sees the line.
    expect(blocked).toEqual([expect.objectContaining({ target: 'delete_all', requestIds: ['2', '1'] })]);
    expect(seen).toEqual(['blocked', 'tap 0', 'tap 1']);
  });

  it('names a string id as JSON text, so "1" and 1 stay apart', async () => {
    const [clientIn, clientOut, childIn, childOut] = [new PassThrough(), new PassThrough(), new PassThrough(), new PassThrough()];
    const blocked: Array<{ requestIds: string[] }> = [];
    startPolicyGate(policyOf({ deny: { tools: ['delete_*'] } }), { clientIn, clientOut, childIn, childOut, tap: () => {}, blocked: (b) => blocked.push(b) });
    clientIn.write(JSON.stringify({ jsonrpc: '2.0', id: '1', method: 'tools/call', params: { name: 'delete_all', arguments: {} } }) + '\n');
    await new Promise((r) => setImmediate(r));
    expect(blocked.map((b) => b.requestIds)).toEqual([['"1"']]);
  });
});
