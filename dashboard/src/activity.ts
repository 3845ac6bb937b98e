import type { TimeWindow } from './filters';
import type { Interaction, Session } from './types';

/**
 * What the sessions API alone can tell about a time range (loaded by load-activity.ts, folded here without I/O):
 * the sessions active in it (and in the window it is compared with) and their interactions. The Overview and the Journey map are built from this, so they work on
 * any server; the cost, risk and latency endpoints add to it where they exist.
 */
export interface Activity {
  window: TimeWindow;
  /** Sessions active in [prevFrom, to] that pass the filters, newest first. */
  sessions: Session[];
  /** Their interactions that started in [prevFrom, to] and pass the filters. */
  interactions: Interaction[];
  /** More sessions matched than were read in detail: interaction numbers cover the newest ones only. */
  truncatedTo: number | null;
}

const time = (iso: string | null) => (iso ? Date.parse(iso) : NaN);

export function sessionActiveIn(session: Session, from: Date, to: Date): boolean {
  return time(session.firstSeenAt) <= to.getTime() && time(session.lastActivityAt) >= from.getTime();
}

export function startedIn(interaction: Interaction, from: Date, to: Date): boolean {
  const at = time(interaction.startedAt);
  return at >= from.getTime() && at <= to.getTime();
}

/** Events km could not record across these sessions (each session's count comes from its session.ended). */
export function droppedObservations(sessions: readonly Session[]): number {
  return sessions.reduce((sum, s) => sum + s.droppedObservations, 0);
}

/** Nearest-rank percentile; null for no values. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface PeriodNumbers {
  sessions: number;
  interactions: number;
  errors: number;
  findings: number;
  /** null when no interaction carried a cost estimate. */
  costUsd: number | null;
  p95Ms: number | null;
}

export function periodNumbers(activity: Activity, from: Date, to: Date): PeriodNumbers {
  const sessions = activity.sessions.filter((s) => sessionActiveIn(s, from, to));
  const interactions = activity.interactions.filter((i) => startedIn(i, from, to));
  const costs = interactions.map((i) => i.costUsd).filter((c): c is number => c !== null);
  return {
    sessions: sessions.length,
    interactions: interactions.length,
    errors: interactions.filter((i) => i.outcome !== 'ok').length,
    findings: interactions.reduce((sum, i) => sum + i.findings.length, 0),
    costUsd: costs.length ? costs.reduce((a, b) => a + b, 0) : null,
    p95Ms: percentile(interactions.map((i) => i.latencyMs).filter((l): l is number => l !== null), 95),
  };
}

/** Bucket start times (seconds, for uPlot) across the window, and a fold of the interactions into them. */
export function bucketStarts(window: TimeWindow): number[] {
  const first = Math.floor(window.from.getTime() / window.bucketMs) * window.bucketMs;
  const starts: number[] = [];
  for (let t = first; t <= window.to.getTime(); t += window.bucketMs) starts.push(t / 1000);
  return starts.length > 1 ? starts : [first / 1000, (first + window.bucketMs) / 1000];
}

export function perBucket(
  window: TimeWindow,
  interactions: Interaction[],
  measure: (inBucket: Interaction[]) => number | null,
): { x: number[]; y: (number | null)[] } {
  const x = bucketStarts(window);
  const groups: Interaction[][] = x.map(() => []);
  const first = x[0]! * 1000;
  for (const interaction of interactions) {
    if (!startedIn(interaction, window.from, window.to)) continue;
    const index = Math.floor((Date.parse(interaction.startedAt) - first) / window.bucketMs);
    groups[Math.min(Math.max(index, 0), x.length - 1)]!.push(interaction);
  }
  return { x, y: groups.map(measure) };
}

/** Who used what: client -> server -> tool, with interaction counts, for the Journey map. */
export interface UsageMap {
  clients: string[];
  servers: string[];
  /** calls[client][server] */
  calls: Map<string, Map<string, number>>;
  tools: Map<string, { tool: string; count: number; errors: number }[]>;
}

export function usageMap(sessions: Session[], interactions: Interaction[]): UsageMap {
  const clientOf = new Map(sessions.map((s) => [s.id, s.client?.name ?? 'unknown client']));
  const calls = new Map<string, Map<string, number>>();
  const tools = new Map<string, Map<string, { tool: string; count: number; errors: number }>>();
  for (const s of sessions) {
    const row = calls.get(clientOf.get(s.id)!) ?? new Map<string, number>();
    row.set(s.server.name, row.get(s.server.name) ?? 0);
    calls.set(clientOf.get(s.id)!, row);
    if (!tools.has(s.server.name)) tools.set(s.server.name, new Map());
  }
  for (const i of interactions) {
    const client = clientOf.get(i.sessionId);
    if (!client) continue;
    const row = calls.get(client)!;
    row.set(i.server.name, (row.get(i.server.name) ?? 0) + 1);
    if (i.method !== 'tools/call' || !i.target) continue;
    const byTool = tools.get(i.server.name) ?? new Map();
    const entry = byTool.get(i.target) ?? { tool: i.target, count: 0, errors: 0 };
    entry.count++;
    if (i.outcome !== 'ok') entry.errors++;
    byTool.set(i.target, entry);
    tools.set(i.server.name, byTool);
  }
  const servers = [...tools.keys()].sort();
  return {
    clients: [...calls.keys()].sort(),
    servers,
    calls,
    tools: new Map(servers.map((server) => [server, [...tools.get(server)!.values()].sort((a, b) => b.count - a.count)])),
  };
}
