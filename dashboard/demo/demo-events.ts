import type { LoggedEvent } from '@km/shared';
import { parseStoredEvent } from '../../functions/src/handlers/stored-event';

/** How far back the recorded sessions are spread: inside the dashboard's "Last 7 days". */
const SPREAD_MS = 6 * 24 * 3600_000;
/** The newest recorded session ends this long before the page opened. */
const NEWEST_AGO_MS = 2 * 60_000;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The events file, one stored event per line, each parsed as the projectors parse what they are handed. */
export function parseEventLines(text: string): LoggedEvent[] {
  const events: LoggedEvent[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const parsed = parseStoredEvent(line);
    if (!parsed.ok) throw new Error(`demo events line ${index + 1}: ${parsed.issues}`);
    events.push(parsed.event);
  }
  return events;
}

/**
 * The sessions were recorded within a minute or two, long ago: each session's times are moved (all of its
 * timestamps by the same amount, so its latencies and order stay as recorded) to spread the sessions over the
 * last days, the newest just before `now`. Without this the views' default ranges would show nothing.
 */
export function shiftToRecent(events: readonly LoggedEvent[], now: Date): LoggedEvent[] {
  const starts = new Map<string, number>();
  for (const event of events) {
    const key = sessionKey(event);
    const at = Date.parse(event.ts);
    if (!starts.has(key) || at < starts.get(key)!) starts.set(key, at);
  }
  const newestFirst = [...starts.entries()].sort((a, b) => b[1] - a[1]);
  const lastTs = Math.max(...events.map((event) => Date.parse(event.ts)));
  const newestStart = newestFirst[0]?.[1] ?? lastTs;
  const step = newestFirst.length > 1 ? SPREAD_MS / (newestFirst.length - 1) : 0;
  // The newest session moves so that the last event is just before now; each older one a step further back per
  // rank. Shifts are whole minutes, so the recorded seconds stay as they were.
  const newestTarget = now.getTime() - NEWEST_AGO_MS - (lastTs - newestStart);
  const shiftOf = new Map(newestFirst.map(([key, start], rank) => [key, roundToMinute(newestTarget - rank * step - start)]));
  return events.map((event) => shifted(event, shiftOf.get(sessionKey(event)) ?? 0));
}

const sessionKey = (event: LoggedEvent) => ('sessionId' in event && typeof event.sessionId === 'string' ? event.sessionId : '');
const roundToMinute = (ms: number) => Math.round(ms / 60_000) * 60_000;

/** Every ISO timestamp in the event, wherever it sits (ts, receivedAt, an interaction's start and end). */
function shifted(event: LoggedEvent, byMs: number): LoggedEvent {
  const move = (_key: string, value: unknown) => (typeof value === 'string' && ISO_TIME.test(value) ? new Date(Date.parse(value) + byMs).toISOString() : value);
  return JSON.parse(JSON.stringify(event, move)) as LoggedEvent;
}
