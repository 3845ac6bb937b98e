import { KmEventSchema, ServerEventSchema, type LoggedEvent } from '@km/shared';
import { z } from 'zod';

/**
 * What ingest (or the server, for its own events) adds; the rest is a client event (KmEventSchema, strict, as at
 * ingest) or a server-made one (ServerEventSchema: budgets, finding status, threshold crossings).
 */
const ServerFieldsSchema = z.object({ receivedAt: z.iso.datetime(), batchId: z.string().min(1).max(200) });

export type ParsedStoredEvent = { ok: true; event: LoggedEvent } | { ok: false; issues: string };

/**
 * Parses one event as an Event Hubs trigger hands it over: an object (the host parsed the JSON), a JSON string, or
 * the raw bytes. Issues name paths and messages only, never values: they go to logs.
 */
export function parseStoredEvent(message: unknown): ParsedStoredEvent {
  let value: unknown = message;
  try {
    if (typeof value === 'string') value = JSON.parse(value);
    else if (value instanceof Uint8Array) value = JSON.parse(Buffer.from(value).toString('utf8'));
  } catch {
    return { ok: false, issues: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, issues: 'not a JSON object' };
  const { receivedAt, batchId, ...clientFields } = value as Record<string, unknown>;
  const server = ServerFieldsSchema.safeParse({ receivedAt, batchId });
  const client = KmEventSchema.safeParse(clientFields);
  if (server.success && client.success) return { ok: true, event: { ...client.data, ...server.data } };
  const serverMade = ServerEventSchema.safeParse(clientFields);
  if (server.success && serverMade.success) return { ok: true, event: { ...serverMade.data, ...server.data } };
  const issues = [...(server.error?.issues ?? []), ...(client.error?.issues ?? [])]
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.code}`)
    .join('; ');
  return { ok: false, issues };
}
