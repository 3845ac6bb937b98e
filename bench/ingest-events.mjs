// Realistic mcp.interaction traffic for the ingest bench: 30 days (by default), 20 projects, 200 tools on 20 servers, 50 users,
// sessions of ~100 calls, previews of a few hundred bytes (about 1 KB of JSON per event, as km ships them).
// Deterministic (seeded), so every run and every mode folds the same events.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { newEventId } = require('../shared/dist/index.js');

const DAY = 86_400_000;
const START = Date.parse('2026-10-01T00:00:00.000Z');

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields the events in gzip-batch-sized arrays (500, as the shipper sends them), sessions interleaved. */
export function* interactionBatches(total, { batchSize = 500, orgId = 'local', seed = 11, days = 30 } = {}) {
  const rand = prng(seed);
  const pick = (n) => Math.floor(rand() * n);
  const models = ['claude-sonnet-4-5', 'claude-opus-4-1', 'gpt-5', null];
  const live = [];
  const newSession = () => {
    const server = pick(20);
    return {
      left: 50 + pick(100),
      envelope: {
        orgId,
        projectId: `project-${pick(20)}`,
        userId: `user-${pick(50)}@example.com`,
        machineId: `machine-${pick(30)}`,
        sessionId: `session-${newEventId()}`,
        server: { name: `server-${server}`, command: `npx -y @example/mcp-server-${server} stdio` },
      },
      server,
      model: models[pick(models.length)],
      request: 0,
    };
  };
  let batch = [];
  for (let i = 0; i < total; i++) {
    if (live.length < 8) live.push(newSession());
    const at = pick(live.length);
    const session = live[at];
    // Spread over 30 days in log order, with jitter, so buckets of every granularity fill.
    const startedMs = START + Math.floor((i / total) * days * DAY) + pick(60_000);
    const latencyMs = Math.round((5 + rand() * rand() * 2000) * 10) / 10;
    const outcome = rand() < 0.03 ? 'error' : rand() < 0.02 ? 'tool_error' : 'ok';
    const tool = `tool-${session.server * 10 + pick(10)}`;
    const startedAt = new Date(startedMs).toISOString();
    const endedAt = new Date(startedMs + latencyMs).toISOString();
    const text = `result ${i} `.repeat(20 + pick(20));
    batch.push({
      ...session.envelope,
      id: newEventId(startedMs),
      v: 1,
      type: 'mcp.interaction',
      ts: endedAt,
      direction: 'client_to_server',
      requestId: String(++session.request),
      method: rand() < 0.9 ? 'tools/call' : 'resources/read',
      target: tool,
      protocolVersion: '2025-06-18',
      startedAt,
      endedAt,
      latencyMs,
      requestBytes: 100 + pick(400),
      responseBytes: 200 + pick(4000),
      outcome,
      error: outcome === 'error' ? { code: -32603, message: 'internal error' } : null,
      resultType: null,
      tokensIn: 20 + pick(200),
      tokensOut: 50 + pick(1500),
      costUsd: session.model ? Math.round(rand() * 1e6) / 1e9 : null,
      findings: [],
      requestPreview: JSON.stringify({ name: tool, arguments: { query: `find ${pick(1000)}`, limit: 20 } }),
      responsePreview: JSON.stringify({ content: [{ type: 'text', text }] }),
      model: session.model,
    });
    if (--session.left === 0) live.splice(at, 1);
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
