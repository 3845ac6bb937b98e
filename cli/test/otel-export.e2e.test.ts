import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BIN_DIR, KM_BIN, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 13: with KM_OTLP_ENDPOINT, km exports each interaction as a span and its duration as a histogram over
 * OTLP/HTTP, named by the GenAI semantic conventions for MCP. The collector here is a local HTTP server that keeps
 * what it is sent (OTLP/HTTP JSON).
 */
type Attr = { key: string; value: Record<string, unknown> };
const attrs = (list: Attr[]) => Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]]));

describe('OpenTelemetry export', () => {
  beforeAll(() => requireBuiltKm());

  it('sends a span per interaction, parented by the request\'s traceparent, and the duration histograms', async () => {
    const received: Record<string, any[]> = { '/v1/traces': [], '/v1/metrics': [] };
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received[req.url ?? '']?.push({ contentType: req.headers['content-type'], auth: req.headers['x-collector-key'], body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const home = tempHome('km-otel');
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'],
        env: { PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'otel@example.com', KM_OTLP_ENDPOINT: endpoint, KM_OTLP_HEADERS: 'x-collector-key=abc' },
        stderr: 'ignore',
      });
      const client = new Client({ name: 'km-otel-e2e', version: '1.0.0' });
      await client.connect(transport);
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parentId = '00f067aa0ba902b7';
      await client.callTool({ name: 'echo', arguments: { message: 'traced' }, _meta: { traceparent: `00-${traceId}-${parentId}-01` } });
      await client.close();

      const spans = await until('the spans at the collector', () => {
        const all = received['/v1/traces']!.flatMap((r) => r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
        return all.some((s: any) => s.name === 'tools/call echo') ? all : undefined;
      });
      const call = spans.find((s: any) => s.name === 'tools/call echo');
      expect(call.traceId).toBe(traceId);
      expect(call.parentSpanId).toBe(parentId);
      expect(call.kind).toBe(3); // CLIENT
      expect(attrs(call.attributes)).toMatchObject({
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': 'echo',
        'gen_ai.operation.name': 'execute_tool',
        'network.transport': 'pipe',
        'km.server.name': 'everything',
        'mcp.protocol.version': expect.any(String),
        'jsonrpc.request.id': expect.any(String),
        'mcp.session.id': expect.any(String),
      });
      expect(spans.map((s: any) => s.name)).toEqual(expect.arrayContaining(['initialize', 'tools/call echo']));
      expect(received['/v1/traces']![0].contentType).toMatch(/application\/json/);
      expect(received['/v1/traces']![0].auth).toBe('abc');

      const metrics = await until('the histograms at the collector', () => {
        const names = received['/v1/metrics']!.flatMap((r) => r.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((m: any) => m.name))));
        return names.includes('mcp.client.session.duration') ? names : undefined;
      });
      expect(metrics).toContain('mcp.client.operation.duration');
    } finally {
      collector.close();
    }
  }, 60_000);
});
