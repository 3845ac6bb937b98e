import { KmEventSchema, type KmEvent } from '@km/shared';
import { LineFramer } from '../src/wrap/line-framer';
import { SessionObserver, type EventDraft } from '../src/wrap/observer';

const envelope = { orgId: 'local', projectId: 'p', userId: 'u', machineId: 'm', sessionId: 's', server: { name: 'srv', command: 'srv' } };

function harness() {
  const drafts: EventDraft[] = [];
  const observer = new SessionObserver((d) => drafts.push(d));
  const framers = { client_to_server: new LineFramer(), server_to_client: new LineFramer() };
  const send = (direction: 'client_to_server' | 'server_to_client', message: unknown, at: number) => {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    for (const frame of framers[direction].push(Buffer.from(text + '\n'), at)) observer.observe(direction, frame);
  };
  const events = () => drafts.map((d) => ({ ...d, ...envelope }) as KmEvent);
  const ofType = <T extends KmEvent['type']>(type: T) => events().filter((e): e is Extract<KmEvent, { type: T }> => e.type === type);
  return { observer, send, events, ofType };
}

describe('SessionObserver', () => {
  it('pairs requests with responses by id and times them', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } }, 1000);
    h.send('client_to_server', { jsonrpc: '2.0', id: '1', method: 'tools/call', params: { name: 'add' } }, 1001);
    h.send('server_to_client', { jsonrpc: '2.0', id: '1', result: { content: [] } }, 1003.5);
    h.send('server_to_client', { jsonrpc: '2.0', id: 1, result: { content: [], isError: true } }, 1010);
    const [add, echo] = h.ofType('mcp.interaction');
    expect(add).toMatchObject({ method: 'tools/call', target: 'add', requestId: '"1"', latencyMs: 2.5, outcome: 'ok', direction: 'client_to_server' });
    expect(echo).toMatchObject({ target: 'echo', requestId: '1', latencyMs: 10, outcome: 'tool_error' });
    expect(echo!.requestBytes).toBe(Buffer.byteLength(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } })) + 1);
  });

  it('records a request whose id the client used again while it was pending, unanswered, beside the violation', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'first' } }, 0);
    h.send('client_to_server', { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'second' } }, 2);
    h.send('server_to_client', { jsonrpc: '2.0', id: 4, result: { content: [] } }, 5);
    expect(h.ofType('mcp.interaction').map((call) => [call.target, call.outcome, call.latencyMs])).toEqual([
      ['first', 'unanswered', null],
      ['second', 'ok', 3],
    ]);
    expect(h.ofType('protocol.violation')).toEqual([expect.objectContaining({ kind: 'invalid_message', detail: expect.stringContaining('reused while still pending') })]);
    for (const event of h.events()) expect(KmEventSchema.safeParse(event).success).toBe(true);
  });

  it('marks what the policy gate answered as refused by policy, and only that (a server cannot mark its own)', () => {
    const h = harness();
    h.observer.refusedByPolicy(['2', '"3"']);
    h.send('client_to_server', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'delete_all' } }, 0);
    h.send('client_to_server', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'read' } }, 1);
    h.send('server_to_client', { jsonrpc: '2.0', id: 2, error: { code: -32001, message: 'km policy: denied' } }, 2);
    h.send('server_to_client', { jsonrpc: '2.0', id: 3, error: { code: -32001, message: 'km policy: looks like km' } }, 3);
    // The id is free again once its refused request was seen: a later request reusing it is the server's.
    h.send('client_to_server', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'read' } }, 4);
    h.send('server_to_client', { jsonrpc: '2.0', id: 2, result: { content: [] } }, 5);
    const [refused, other, later] = h.ofType('mcp.interaction');
    expect(refused).toMatchObject({ target: 'delete_all', outcome: 'error', refusedByPolicy: true });
    expect(other).not.toHaveProperty('refusedByPolicy');
    expect(later).not.toHaveProperty('refusedByPolicy');
    for (const event of h.events()) expect(KmEventSchema.safeParse(event).success).toBe(true);
  });

  it('forgets a refusal whose line it never saw once the batch is over: the id cannot mark a later call', () => {
    const h = harness();
    h.observer.refusedByPolicy(['1']);
    h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: '' }, 0); // not a request the observer can pair
    h.observer.refusalsSeen();
    h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read' } }, 1);
    h.send('server_to_client', { jsonrpc: '2.0', id: 1, result: { content: [] } }, 2);
    expect(h.ofType('mcp.interaction')[0]).not.toHaveProperty('refusedByPolicy');
  });

  it('records JSON-RPC errors with their code and a redacted message', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 9, method: 'resources/read', params: { uri: 'file:///x' } }, 0);
    h.send('server_to_client', { jsonrpc: '2.0', id: 9, error: { code: -32002, message: 'denied for token=abcdef123456789' } }, 4);
    const [i] = h.ofType('mcp.interaction');
    expect(i).toMatchObject({ outcome: 'error', target: 'file:///x', error: { code: -32002 } });
    expect(i!.error!.message).not.toContain('abcdef123456789');
  });

  it('pairs server-to-client requests (sampling, elicitation, roots) answered by the client', () => {
    const h = harness();
    h.send('server_to_client', { jsonrpc: '2.0', id: 0, method: 'sampling/createMessage', params: {} }, 10);
    h.send('client_to_server', { jsonrpc: '2.0', id: 0, result: { role: 'assistant' } }, 30);
    expect(h.ofType('mcp.interaction')[0]).toMatchObject({ direction: 'server_to_client', method: 'sampling/createMessage', latencyMs: 20 });
  });

  it('learns the revision from initialize', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', clientInfo: { name: 'cli', version: '1' }, capabilities: {} } }, 0);
    h.send('server_to_client', { jsonrpc: '2.0', id: 0, result: { protocolVersion: '2025-06-18', serverInfo: { name: 'srv', version: '2' }, capabilities: {} } }, 1);
    expect(h.ofType('session.identified')[0]).toMatchObject({ via: 'initialize', protocolVersion: '2025-06-18', client: { name: 'cli', version: '1' }, serverInfo: { name: 'srv', version: '2' } });
  });

  it('names the client of an initialize never answered (a client that gave up and killed km)', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', clientInfo: { name: 'claude-code', version: '2.1' }, capabilities: {} } }, 0);
    h.observer.finish({ exitCode: null, signal: 'SIGTERM', startedAt: 0, at: 300 });
    expect(h.ofType('session.identified')).toEqual([expect.objectContaining({ via: 'initialize', client: { name: 'claude-code', version: '2.1' }, serverInfo: null })]);
    expect(h.ofType('mcp.interaction')).toEqual([expect.objectContaining({ method: 'initialize', outcome: 'unanswered' })]);
    for (const event of h.events()) expect(KmEventSchema.safeParse(event).success).toBe(true);
  });

  it('records a 2026-07-28 session with no handshake: revision from _meta, discover, multi round-trip legs', () => {
    const h = harness();
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'new-client' } };
    h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'book', _meta: meta } }, 0);
    h.send('server_to_client', { jsonrpc: '2.0', id: 1, result: { resultType: 'input_required', inputRequests: {} } }, 5);
    h.send('client_to_server', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'book', _meta: meta } }, 6);
    h.send('server_to_client', { jsonrpc: '2.0', id: 2, result: { resultType: 'complete', content: [] } }, 9);
    h.send('client_to_server', { jsonrpc: '2.0', id: 3, method: 'server/discover', params: { _meta: meta } }, 10);
    h.send('server_to_client', { jsonrpc: '2.0', id: 3, result: { serverInfo: { name: 'srv26' }, capabilities: {} } }, 11);
    const interactions = h.ofType('mcp.interaction');
    expect(interactions.map((i) => [i.method, i.resultType, i.protocolVersion])).toEqual([
      ['tools/call', 'input_required', '2026-07-28'],
      ['tools/call', 'complete', '2026-07-28'],
      ['server/discover', null, '2026-07-28'],
    ]);
    const identified = h.ofType('session.identified');
    expect(identified[0]).toMatchObject({ via: 'meta', protocolVersion: '2026-07-28', client: { name: 'new-client' } });
    expect(identified[1]).toMatchObject({ via: 'discover', serverInfo: { name: 'srv26' } });
  });

  it('records non-JSON lines, unknown ids and invalid messages as protocol violations', () => {
    const h = harness();
    h.send('server_to_client', 'Server started on stdio! password=hunter22222', 0);
    h.send('server_to_client', { jsonrpc: '2.0', id: 42, result: {} }, 1);
    h.send('client_to_server', '"just a string"', 2);
    const v = h.ofType('protocol.violation');
    expect(v.map((e) => e.kind)).toEqual(['non_json', 'unknown_response_id', 'invalid_message']);
    expect(v[0]!.detail).not.toContain('hunter22222');
  });

  it('handles JSON-RPC batches element by element', () => {
    const h = harness();
    h.send('client_to_server', [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', method: 'notifications/initialized' }], 0);
    h.send('server_to_client', [{ jsonrpc: '2.0', id: 1, result: {} }], 2);
    expect(h.ofType('mcp.interaction')).toHaveLength(1);
    expect(h.ofType('mcp.notification')[0]).toMatchObject({ method: 'notifications/initialized' });
  });

  it('hashes tool definitions from tools/list', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, 0);
    h.send('server_to_client', { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo', description: 'Echoes', inputSchema: { type: 'object' } }] } }, 1);
    const [listed] = h.ofType('mcp.tools_listed');
    expect(listed!.tools).toEqual([{ name: 'echo', descriptionHash: expect.stringMatching(/^[0-9a-f]{64}$/), schemaHash: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  });

  it('turns requests still pending at the end into unanswered interactions, then ends the session', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'slow' } }, 0);
    h.observer.finish({ exitCode: 0, signal: null, startedAt: 0, at: 100 });
    expect(h.ofType('mcp.interaction')[0]).toMatchObject({ outcome: 'unanswered', latencyMs: null, endedAt: null });
    expect(h.ofType('session.ended')[0]).toMatchObject({ exitCode: 0, durationMs: 100 });
  });

  it('marks as abandoned what the client left unanswered by ending the session soon after asking, and only that', () => {
    const ended = (clientEnded: { at: number; how: 'signal' | 'stdin' } | undefined, exitCode: number | null = 0) => {
      const h = harness();
      h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'long-wait' } }, 0);
      h.send('client_to_server', { jsonrpc: '2.0', id: 2, method: 'tools/list' }, 9_000);
      h.send('server_to_client', { jsonrpc: '2.0', id: 7, method: 'roots/list' }, 9_500);
      // The server takes 20 s to exit after the client left: the window is the client's, not km's end.
      h.observer.finish({ exitCode, signal: null, startedAt: 0, at: 30_000, ...(clientEnded ? { clientEnded } : {}) });
      for (const event of h.events()) expect(KmEventSchema.safeParse(event).success).toBe(true);
      return h.ofType('mcp.interaction').map((i) => [i.method, i.outcome, i.abandoned ?? false]);
    };
    // Asked 1 s before the client left: abandoned; waited 10 s for an answer: the server did not answer; the server's own request is the client's to answer.
    expect(ended({ at: 10_000, how: 'signal' })).toEqual([['tools/call', 'unanswered', false], ['tools/list', 'unanswered', true], ['roots/list', 'unanswered', false]]);
    expect(ended({ at: 10_000, how: 'stdin' })).toEqual([['tools/call', 'unanswered', false], ['tools/list', 'unanswered', true], ['roots/list', 'unanswered', false]]);
    // The server ended it, or crashed once the client closed its stdin: its requests are its failures.
    expect(ended(undefined).map(([, , abandoned]) => abandoned)).toEqual([false, false, false]);
    expect(ended({ at: 10_000, how: 'stdin' }, 1).map(([, , abandoned]) => abandoned)).toEqual([false, false, false]);
    expect(ended({ at: 10_000, how: 'signal' }, 1).map(([, , abandoned]) => abandoned)).toEqual([false, true, false]);
  });

  it("records a request the client cancelled (its timeout) as unanswered when it cancels, not as abandoned when it leaves, and takes a late answer quietly", () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'hang' } }, 0);
    h.send('client_to_server', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3, reason: 'Request timed out' } }, 1000);
    h.send('server_to_client', { jsonrpc: '2.0', id: 3, result: { content: [] } }, 1500);
    // A cancel of what was answered already, or never asked, changes nothing.
    h.send('client_to_server', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 99 } }, 1600);
    h.observer.finish({ exitCode: 0, signal: null, startedAt: 0, at: 2000, clientEnded: { at: 1800, how: 'stdin' } });
    // Before, recorded at the end as abandoned (a health check's), out of the error rate.
    expect(h.ofType('mcp.interaction').map((call) => [call.target, call.outcome, call.abandoned ?? false, call.ts])).toEqual([['hang', 'unanswered', false, new Date(1000).toISOString()]]);
    expect(h.ofType('protocol.violation')).toEqual([]);
  });

  it('pairs ids per channel (km proxy: per MCP session), the same ids in two channels being two exchanges', () => {
    const h = harness();
    const send = (direction: 'client_to_server' | 'server_to_client', message: unknown, at: number, channel: string) => {
      const framer = new LineFramer();
      for (const frame of framer.push(Buffer.from(JSON.stringify(message) + '\n'), at)) h.observer.observe(direction, frame, 0, 'full', channel);
    };
    send('client_to_server', { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'slow' } }, 0, 'session:a');
    send('client_to_server', { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'fast' } }, 10, 'session:b');
    send('server_to_client', { jsonrpc: '2.0', id: 0, result: { content: [] } }, 20, 'session:b');
    // A client's cancel and its answer to the server's request come in other POSTs of the same channel.
    send('server_to_client', { jsonrpc: '2.0', id: 7, method: 'elicitation/create', params: {} }, 30, 'session:a');
    send('client_to_server', { jsonrpc: '2.0', id: 7, result: { action: 'accept' } }, 40, 'session:a');
    send('client_to_server', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 0 } }, 50, 'session:a');
    expect(h.ofType('mcp.interaction').map((call) => [call.method, call.target, call.outcome, call.latencyMs])).toEqual([
      ['tools/call', 'fast', 'ok', 10],
      ['elicitation/create', null, 'ok', 10],
      ['tools/call', 'slow', 'unanswered', null],
    ]);
    expect(h.ofType('protocol.violation')).toEqual([]);
  });

  it('files a secret on a line that is not JSON as a finding, and keeps it out of the violation', () => {
    const h = harness();
    const key = ['AKIA', 'IOSFODNN7EXAMPLE'].join('');
    h.send('server_to_client', `debug token ${key}`, 0);
    h.send('server_to_client', 'debug: listening on stdio', 1);
    // The same secret printed again is the same finding.
    h.send('server_to_client', `debug token ${key}`, 2);
    expect(h.ofType('protocol.violation').map((v) => v.detail)).toEqual(['debug token [REDACTED:aws-access-key-id]', 'debug: listening on stdio', 'debug token [REDACTED:aws-access-key-id]']);
    expect(h.ofType('risk.detected')).toEqual([expect.objectContaining({ method: '(not JSON-RPC)', target: null, findings: [{ ruleId: 'aws-access-key-id', severity: expect.any(String), path: '$' }] })]);
    expect(JSON.stringify(h.events())).not.toContain(key);
    for (const event of h.events()) expect(KmEventSchema.safeParse(event).success).toBe(true);
  });

  it('only makes events that the ingest schema accepts', () => {
    const h = harness();
    h.send('client_to_server', { jsonrpc: '2.0', id: 0, method: 'initialize', params: { clientInfo: { name: 'c' } } }, 0);
    h.send('server_to_client', { jsonrpc: '2.0', id: 0, result: { protocolVersion: '2025-11-25' } }, 1);
    h.send('server_to_client', 'garbage', 2);
    h.send('client_to_server', { jsonrpc: '2.0', method: 'notifications/initialized' }, 3);
    h.observer.finish({ exitCode: null, signal: 'SIGTERM', startedAt: 0, at: 4 });
    for (const event of h.events()) expect(KmEventSchema.safeParse(event).error).toBeUndefined();
  });
});

describe('SessionObserver plugins', () => {
  it('lets plugins fill interaction fields from the exchange, and isolates a failing one', () => {
    const drafts: EventDraft[] = [];
    const observer = new SessionObserver((d) => drafts.push(d), [
      { interaction: () => { throw new Error('plugin bug'); } },
      { interaction: (draft, exchange) => { draft.tokensIn = JSON.stringify(exchange.result ?? null).length; draft.tokensOut = Object.keys(exchange.params ?? {}).length; } },
    ]);
    const framer = new LineFramer();
    const feed = (direction: 'client_to_server' | 'server_to_client', m: unknown) => framer.push(Buffer.from(JSON.stringify(m) + '\n'), 0).forEach((f) => observer.observe(direction, f));
    feed('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } });
    feed('server_to_client', { jsonrpc: '2.0', id: 1, result: { content: [] } });
    expect(drafts[0]).toMatchObject({ type: 'mcp.interaction', tokensIn: JSON.stringify({ content: [] }).length, tokensOut: 2 });
    expect(observer.dropped).toBe(1);
  });

  it('lets plugins see tool definitions and add events of their own', () => {
    const drafts: EventDraft[] = [];
    const observer = new SessionObserver((d) => drafts.push(d), [
      { toolsListed: (draft, tools) => { draft.contextTokens = tools.length * 10; return [{ id: 'x', v: 1, ts: draft.ts, type: 'mcp.notification', direction: 'server_to_client', method: 'plugin/extra', bytes: 0 }]; } },
    ]);
    const framer = new LineFramer();
    const feed = (direction: 'client_to_server' | 'server_to_client', m: unknown) => framer.push(Buffer.from(JSON.stringify(m) + '\n'), 0).forEach((f) => observer.observe(direction, f));
    feed('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    feed('server_to_client', { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'a' }, { name: 'b' }] } });
    expect(drafts.map((d) => d.type)).toEqual(['mcp.tools_listed', 'mcp.notification', 'mcp.interaction']);
    expect(drafts[0]).toMatchObject({ contextTokens: 20 });
  });
});

describe('SessionObserver redaction of names', () => {
  it('never lets a secret out through a resource URI or a method name', () => {
    const h = harness();
    const key = ['AKIA', 'MNBVCXZLKJHGFDSB'].join('');
    h.send('client_to_server', { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: `demo://${key}/x` } }, 0);
    h.send('server_to_client', { jsonrpc: '2.0', id: 1, result: { contents: [] } }, 1);
    h.send('client_to_server', { jsonrpc: '2.0', method: `frobnicate/${key}` }, 2);
    const text = JSON.stringify(h.events());
    expect(text).not.toContain(key);
    expect(h.ofType('mcp.interaction')[0]!.target).toMatch(/^demo:\/\/\[REDACTED:[a-z-]+\]\/x$/);
  });
});
