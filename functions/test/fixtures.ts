import {
  KmEventSchema,
  newEventId,
  type Envelope,
  type Interaction,
  type KmEvent,
  type SessionEnded,
  type SessionStarted,
  type StoredEvent,
  type LoggedEvent,
} from '@km/shared';
import { EMBEDDED_PARTITION } from '../src/ports';
import type { PositionedEvent } from '../src/projector';

/**
 * A small builder of valid events for tests: every event goes through KmEventSchema, so a fixture that drifts
 * from the schema fails here, loudly, instead of producing a confusing 400 deep inside a test.
 */

export function anEnvelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    orgId: 'local',
    projectId: 'default',
    userId: 'dev@example.com',
    machineId: 'machine-1',
    sessionId: `session-${newEventId()}`,
    server: { name: 'everything', command: 'mcp-server-everything stdio' },
    ...overrides,
  };
}

const valid = <T extends KmEvent>(event: T): T => KmEventSchema.parse(event) as T;

export function sessionStarted(envelope: Envelope, ts: string, overrides: Partial<SessionStarted> = {}): SessionStarted {
  return valid<SessionStarted>({
    ...envelope,
    id: newEventId(Date.parse(ts)),
    v: 1,
    type: 'session.started',
    ts,
    transport: 'stdio',
    pid: 4242,
    kmVersion: '0.1.0',
    ...overrides,
  });
}

export function interaction(envelope: Envelope, startedAt: string, overrides: Partial<Interaction> = {}): Interaction {
  const latencyMs = overrides.latencyMs ?? 12;
  const endedAt = new Date(Date.parse(startedAt) + latencyMs).toISOString();
  return valid<Interaction>({
    ...envelope,
    id: newEventId(Date.parse(startedAt)),
    v: 1,
    type: 'mcp.interaction',
    ts: endedAt,
    direction: 'client_to_server',
    requestId: '1',
    method: 'tools/call',
    target: 'echo',
    protocolVersion: '2025-06-18',
    startedAt,
    endedAt,
    latencyMs,
    requestBytes: 120,
    responseBytes: 340,
    outcome: 'ok',
    error: null,
    resultType: null,
    tokensIn: 30,
    tokensOut: 85,
    costUsd: null,
    findings: [],
    requestPreview: '{"message":"hi"}',
    responsePreview: '{"content":[{"type":"text","text":"hi"}]}',
    ...overrides,
  });
}

export function sessionEnded(envelope: Envelope, ts: string, overrides: Partial<SessionEnded> = {}): SessionEnded {
  return valid<SessionEnded>({
    ...envelope,
    id: newEventId(Date.parse(ts)),
    v: 1,
    type: 'session.ended',
    ts,
    exitCode: 0,
    signal: null,
    durationMs: 1000,
    droppedObservations: 0,
    ...overrides,
  });
}

/** A whole short session: started, `count` tool calls one second apart, ended. */
export function aSessionOfEvents(envelope: Envelope, startAt: string, count = 2): KmEvent[] {
  const start = Date.parse(startAt);
  const at = (seconds: number) => new Date(start + seconds * 1000).toISOString();
  const calls = Array.from({ length: count }, (_, i) => interaction(envelope, at(i + 1), { requestId: String(i + 1) }));
  return [sessionStarted(envelope, at(0)), ...calls, sessionEnded(envelope, at(count + 1))];
}

export function stored(events: KmEvent[], batchId = 'batch-1', receivedAt = '2026-01-01T00:00:00.000Z'): StoredEvent[] {
  return events.map((event) => ({ ...event, receivedAt, batchId }));
}

let lastPosition = 0;

/** Events as the embedded log hands them to a projector: each at its own, increasing position. */
export function positioned(events: readonly LoggedEvent[]): PositionedEvent[] {
  return events.map((event) => ({ event, partition: EMBEDDED_PARTITION, position: ++lastPosition }));
}
