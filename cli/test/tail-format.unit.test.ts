import { formatBytes, formatInteraction, formatLatency, type TailInteraction } from '../src/tail-format';

const call = (overrides: Partial<TailInteraction> = {}): TailInteraction => ({
  id: 'i1',
  sessionId: 's1',
  server: 'everything',
  method: 'tools/call',
  tool: 'echo',
  target: 'echo',
  latencyMs: 12.3456,
  requestBytes: 120,
  responseBytes: 2048,
  outcome: 'ok',
  error: null,
  startedAt: '2026-11-25T13:00:20.123Z',
  ...overrides,
});

describe('km tail lines', () => {
  const plain = { color: false, slowMs: 1000 };
  const colour = { color: true, slowMs: 1000 };

  it('prints time, server, method and tool, latency, sizes and outcome, without colour off a terminal', () => {
    const line = formatInteraction(call(), plain);
    expect(line).toMatch(/^13:00:20\.123 {2}everything {4}tools\/call echo +12 ms {2}120 B > 2\.0 KB +ok$/);
    expect(line).not.toContain('\x1b[');
    expect(formatInteraction(call({ outcome: 'error', error: { code: -32601, message: 'Method not found' }, method: 'x/y', tool: null, target: null }), plain)).toMatch(/error -32601 Method not found$/);
    expect(formatInteraction(call({ outcome: 'unanswered', latencyMs: null }), plain)).toMatch(/— .* no answer$/);
    expect(formatInteraction(call({ outcome: 'unanswered', latencyMs: null, abandoned: true }), plain)).toMatch(/— .* abandoned$/);
    expect(formatInteraction(call({ method: 'resources/read', tool: null, target: 'file:///a' }), plain)).toContain('resources/read file:///a');
  });

  it('colours errors red and slow calls yellow on a terminal', () => {
    expect(formatInteraction(call({ outcome: 'tool_error' }), colour)).toContain('\x1b[31mtool error\x1b[0m');
    expect(formatInteraction(call({ latencyMs: 1500 }), colour)).toContain('\x1b[33m   1.50 s\x1b[0m');
    expect(formatInteraction(call(), colour)).not.toContain('\x1b[33m');
  });

  it('formats sizes and latencies for reading', () => {
    expect([formatBytes(0), formatBytes(1536), formatBytes(3 * 1024 * 1024)]).toEqual(['0 B', '1.5 KB', '3.0 MB']);
    expect([formatLatency(0.0831), formatLatency(250.4), formatLatency(61_000)]).toEqual(['0.08 ms', '250 ms', '61.00 s']);
  });
});
