import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KmEventSchema, redactEventStrings, safeField, type KmEvent } from '@km/shared';
import { FALSE_POSITIVES, TRUE_POSITIVES } from '../../shared/test/fixtures/secrets-corpus';
import { fileLogger } from '../src/log';
import { LineFramer } from '../src/wrap/line-framer';
import { SessionObserver, type EventDraft } from '../src/wrap/observer';
import { riskPlugin } from '../src/wrap/risk-plugin';

const envelope = { orgId: 'local', projectId: 'p', userId: 'u', machineId: 'm', sessionId: 's', server: { name: 'srv', command: 'srv' } };

function harness() {
  const drafts: EventDraft[] = [];
  const home = mkdtempSync(join(tmpdir(), 'km-redact-'));
  const observer = new SessionObserver((d) => drafts.push(d), [riskPlugin({ capture: 'redacted', home, projectId: 'p', serverName: 'srv', whenRecorded: (fn) => fn() })]);
  const framers = { client_to_server: new LineFramer(), server_to_client: new LineFramer() };
  const send = (direction: 'client_to_server' | 'server_to_client', message: unknown) => {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    for (const frame of framers[direction].push(Buffer.from(text + '\n'), 0)) observer.observe(direction, frame);
  };
  const events = () => drafts.map((d) => KmEventSchema.parse({ ...d, ...envelope }) as KmEvent);
  return { observer, send, events, home };
}

/** Every identity and protocol field the observer reads off the wire, each carrying `text`. */
function session(text: string) {
  const h = harness();
  const meta = { 'io.modelcontextprotocol/protocolVersion': text, 'io.modelcontextprotocol/clientInfo': { name: text, version: text } };
  h.send('client_to_server', { jsonrpc: '2.0', id: text, method: 'initialize', params: { protocolVersion: text, clientInfo: { name: text, version: text } } });
  h.send('server_to_client', { jsonrpc: '2.0', id: text, result: { protocolVersion: text, serverInfo: { name: text, version: text } } });
  h.send('client_to_server', { jsonrpc: '2.0', id: 2, method: 'tools/list' });
  h.send('server_to_client', { jsonrpc: '2.0', id: 2, result: { tools: [{ name: text, description: 'd', inputSchema: {} }] } });
  h.send('client_to_server', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: text, arguments: {}, _meta: meta } });
  h.send('server_to_client', { jsonrpc: '2.0', id: 3, result: { resultType: text, content: [] } });
  h.send('client_to_server', { jsonrpc: '2.0', id: 4, method: text });
  h.send('server_to_client', { jsonrpc: '2.0', id: 4, error: { code: 1, message: text } });
  h.send('server_to_client', { jsonrpc: '2.0', method: text });
  h.send('client_to_server', { jsonrpc: '2.0', id: 5, method: 'ping' });
  h.send('client_to_server', { jsonrpc: '2.0', id: 5, method: 'ping' });
  h.send('server_to_client', { jsonrpc: '2.0', id: text, result: {} });
  h.send('server_to_client', `log: ${text}`);
  h.observer.finish({ exitCode: 0, signal: null, startedAt: 0, at: 1 });
  return h;
}

const definitionsText = (home: string) => {
  const dir = join(home, 'tool-definitions');
  return require('node:fs').readdirSync(dir).map((f: string) => readFileSync(join(dir, f), 'utf8')).join('\n');
};

describe('every wire string an event takes is redacted', () => {
  it.each(TRUE_POSITIVES.map((item) => [item.rule, item.text, item.secret] as const))('%s in %j', (_rule, text, secret) => {
    const h = session(text);
    const events = h.events();
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['session.identified', 'mcp.tools_listed', 'mcp.interaction', 'mcp.notification', 'protocol.violation']));
    expect(JSON.stringify(events)).not.toContain(secret);
    expect(definitionsText(h.home)).not.toContain(secret);
  });

  it.each(FALSE_POSITIVES.filter((text) => text.length <= 50))('keeps %j where it was', (text) => {
    const events = session(text).events();
    const identified = events.find((e) => e.type === 'session.identified');
    expect(identified).toMatchObject({ protocolVersion: text, client: { name: text, version: text }, serverInfo: { name: text, version: text } });
    expect(events.find((e) => e.type === 'mcp.tools_listed')).toMatchObject({ tools: [{ name: text }] });
    expect(events.find((e) => e.type === 'mcp.notification')).toMatchObject({ method: text });
  });

  it('redacts a card number sent as a numeric request id, and keeps ordinary numeric ids', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 4111111111111111, method: 'ping' });
    h.send('server_to_client', { jsonrpc: '2.0', id: 4111111111111111, result: {} });
    h.send('client_to_server', { jsonrpc: '2.0', id: 7, method: 'ping' });
    h.send('server_to_client', { jsonrpc: '2.0', id: 7, result: {} });
    const ids = h.events().flatMap((e) => (e.type === 'mcp.interaction' ? [e.requestId] : []));
    expect(ids).toEqual(['[REDACTED:card-number]', '7']);
  });

  it('redacts before cutting, so a secret straddling a field bound still goes', () => {
    const key = ['ghp_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A'].join('');
    const cut = safeField(`${'x'.repeat(190)} ${key}`, 200);
    expect(cut).toHaveLength(200);
    expect(cut).not.toContain(key.slice(0, 9));
  });
});

describe('PEM private keys', () => {
  const body = Array.from({ length: 6 }, (_, i) => `MIIEvQIBADANBgkqhkiG9w0BAQEFAASC${i}kcwggSjAgEAAoIBAQC7`);
  const pem = ['-----BEGIN ' + 'PRIVATE KEY-----', ...body, '-----END ' + 'PRIVATE KEY-----'];

  it('printed line by line on stdout: every line of the block is redacted, the lines after it are not', () => {
    const h = harness();
    for (const line of [...pem, 'server ready on port 8080']) h.send('server_to_client', line);
    const details = h.events().flatMap((e) => (e.type === 'protocol.violation' ? [e.detail] : []));
    expect(details).toEqual([...pem.map(() => '[REDACTED:private-key]'), 'server ready on port 8080']);
  });

  it('in each direction on its own', () => {
    const h = harness();
    h.send('server_to_client', pem[0]!);
    h.send('client_to_server', 'plain client line');
    h.send('server_to_client', body[0]!);
    const details = h.events().flatMap((e) => (e.type === 'protocol.violation' ? [e.detail] : []));
    expect(details).toEqual(['[REDACTED:private-key]', 'plain client line', '[REDACTED:private-key]']);
  });

  it('inside a JSON string with \\n escapes: redacted whole in previews and error messages', () => {
    const h = harness();
    const key = pem.join('\n');
    h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read', arguments: { path: 'k.pem' } } });
    h.send('server_to_client', { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: `key:\n${key}\nend` }] } });
    h.send('client_to_server', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'read', arguments: {} } });
    h.send('server_to_client', { jsonrpc: '2.0', id: 2, error: { code: 1, message: `bad key ${key}` } });
    const text = JSON.stringify(h.events());
    for (const line of body) expect(text).not.toContain(line.slice(0, 30));
    expect(text).toContain('[REDACTED:private-key]');
  });
});

describe('the last pass over a draft', () => {
  const key = ['ghp_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A'].join('');

  it('redacts a wire string in any field, even one no-one redacted where it was read, and never lengthens it', () => {
    const draft = { id: 'x', v: 1, ts: 't', type: 'policy.blocked', method: 'tools/call', target: `t ${key}`, ruleId: 'r', reason: `because ${key}` } as unknown as EventDraft;
    const out = redactEventStrings(draft) as any;
    expect(JSON.stringify(out)).not.toContain(key);
    expect(out.target.length).toBeLessThanOrEqual(`t ${key}`.length);
  });

  it('leaves the fields km made, and previews (the capture mode shapes them), as they are', () => {
    const draft = { id: key, ts: key, requestPreview: key, findings: [{ ruleId: 'r', severity: 'low', path: '$' }], method: 'ok' } as unknown as EventDraft;
    expect(redactEventStrings(draft)).toBe(draft);
  });
});

describe('km.log', () => {
  it('redacts every line it writes', () => {
    const home = mkdtempSync(join(tmpdir(), 'km-log-'));
    const logger = fileLogger(home, false);
    for (const item of TRUE_POSITIVES) logger.error(`server said: ${item.text}`);
    const log = readFileSync(join(home, 'km.log'), 'utf8');
    for (const item of TRUE_POSITIVES) expect([item.rule, log.includes(item.secret)]).toEqual([item.rule, false]);
    logger.info('session 0190f3a2-7c1d-7e4b-9a6f-2b3c4d5e6f70 ended');
    expect(readFileSync(join(home, 'km.log'), 'utf8')).toContain('0190f3a2-7c1d-7e4b-9a6f-2b3c4d5e6f70');
  });
});

describe('a secret in a JSON-RPC error', () => {
  it('is found as well as redacted, at the path of its string', () => {
    const token = ['ghp', '_', 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'].join('');
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'deploy', arguments: {} } });
    h.send('server_to_client', { jsonrpc: '2.0', id: 1, error: { code: -32000, message: `bad token ${token}`, data: { env: { GITHUB_TOKEN: token } } } });
    const call = h.events().find((e) => e.type === 'mcp.interaction') as Extract<KmEvent, { type: 'mcp.interaction' }>;
    expect(JSON.stringify(call)).not.toContain(token);
    // Before, redacted and not found: no finding, nothing on the Risk Monitor.
    expect(call.findings).toEqual(expect.arrayContaining([expect.objectContaining({ ruleId: 'github-token', severity: 'critical', path: '$.error.message' })]));
    // And its data, which no preview keeps, is scanned where it stands.
    expect(call.findings.filter((f) => f.path === '$.error.data.env.GITHUB_TOKEN')).toEqual([expect.objectContaining({ severity: expect.stringMatching(/high|critical/) })]);
  });
});
