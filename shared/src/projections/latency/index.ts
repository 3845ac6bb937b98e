import type { Interaction, KmEvent } from '../../events';
import { own, ownRecord, reachedServer, withoutIdLists, type Projection } from '../projection';
import { expandStats, isStoredForm, latencyMicros, sortedCounts, StatsAccumulator, storedStats, withKey, type LatencyStats, type StoredStats } from './stats';

/**
 * Latency buckets: one document per (scope, granularity, period), scope being the org, one project or one user, and
 * granularity an hour or a day (UTC). Inside, the stats of the whole scope and per server, per server+tool and per
 * method, plus the slowest interactions of the period.
 *
 * Hours and days, no minutes: minute documents were most of the app's writes (issue 11), and a batch touches far
 * fewer distinct days than minutes. Sketches merge exactly, so any range is whole days plus the hours at its edges
 * (ranges.ts), with percentiles as accurate as those of one bucket.
 *
 * Only the org has bucket documents of its own. A project's or a user's hour is the sum of its sessions' hours, and
 * a session has one project and one user: so each session keeps its hours of a UTC day in one document
 * (SessionDayDoc), which serves both scopes, and a project or user range reads the session days of its days. A batch
 * writes one document per session it touches, where hour documents per project and per user were two per
 * (scope, hour): 40 of the 128 documents written per 1000 events (issue 11). Stores written before may still hold
 * project and user hour documents (readLatencyBuckets adds them), and `minute|...` documents and project or user
 * days, which nothing reads any more.
 */
export type LatencyGranularity = 'hour' | 'day';
/** A project's scope narrowed to one of its users (userId) reads the session days of both, each naming one of each. */
export type LatencyScope = { kind: 'org' } | { kind: 'project'; id: string; userId?: string } | { kind: 'user'; id: string };

/** A drill-down row: enough to open the session and find the call. */
export interface SlowInteraction {
  id: string;
  sessionId: string;
  server: string;
  tool: string | null;
  method: string;
  latencyMs: number;
  startedAt: string;
  outcome: Interaction['outcome'];
}

export type ToolStats = LatencyStats & { server: string; tool: string };

interface Bucket<Stats, Tool> extends BucketStats<Stats, Tool> {
  id: string;
  orgId: string;
  scope: string;
  granularity: LatencyGranularity;
  /** The bucket's start, ISO UTC. */
  period: string;
}

/** What a bucket knows of its calls: the part a session's hour keeps too. */
interface BucketStats<Stats, Tool> {
  total: Stats;
  servers: Record<string, Stats>;
  /** Keyed by toolKey(server, tool); tools/call only. */
  tools: Record<string, Tool>;
  methods: Record<string, Stats>;
  /** The SLOWEST_KEPT slowest answered interactions, slowest first (ties by id): a top-N of a set, so order-free. */
  slowest: SlowInteraction[];
}

/** A bucket as it is folded: every stats field present (expandBucket). */
export type LatencyBucket = Bucket<LatencyStats, ToolStats>;
/** A bucket as it is stored: stats without their empty fields (StoredStats). */
export type LatencyBucketDoc = Bucket<StoredStats, StoredStats<ToolStats>>;

/**
 * The hours of one session (of one project and user) in one UTC day, each as a bucket's stats: a project's or user's
 * hour is the sum of its sessions'. A 30-day project or user range reads hundreds of them, so their slowest calls are
 * stored as rows without the session id they all share (SlowRow): objects named every field and the session in each
 * of 20 calls per hour, well over half of the document (issue 11).
 */
export interface SessionDayDoc {
  id: string;
  orgId: string;
  kind: 'sessionDay';
  sessionId: string;
  projectId: string;
  userId: string;
  /** The UTC day's start, ISO. */
  day: string;
  /** Keyed by the hour's start (ISO), sorted. */
  hours: Record<string, SessionHour>;
}
export type SessionHour = Omit<BucketStats<StoredStats, StoredStats<ToolStats>>, 'slowest'> & {
  /** Rows; documents written before rows hold SlowInteraction objects, read as well (slowInteractionOf). */
  slowest: Array<SlowRow | SlowInteraction>;
};

/** A session hour's slow call: a SlowInteraction without its session (the document's). */
export type SlowRow = [id: string, server: string, tool: string | null, method: string, latencyMs: number, startedAt: string, outcome: Interaction['outcome']];

const slowRow = (call: SlowInteraction): SlowRow => [call.id, call.server, call.tool, call.method, call.latencyMs, call.startedAt, call.outcome];

/** A session hour's slow call as the routes answer it, from a row or from an object of a document written before rows. */
export function slowInteractionOf(entry: SlowRow | SlowInteraction, sessionId: string): SlowInteraction {
  if (!Array.isArray(entry)) return entry;
  const [id, server, tool, method, latencyMs, startedAt, outcome] = entry;
  return { id, sessionId, server, tool, method, latencyMs, startedAt, outcome };
}
export type LatencyDoc = LatencyBucketDoc | SessionDayDoc;

/** 20, not 100: the slowest lists were the largest part of a document, and a drill-down shows 10. */
export const SLOWEST_KEPT = 20;
export const LATENCY_GRANULARITIES: readonly LatencyGranularity[] = ['hour', 'day'];
/** How long a bucket of each granularity is: one table for the fold, the ranges and the query handlers. */
export const PERIOD_LENGTH_MS: Readonly<Record<LatencyGranularity, number>> = { hour: 3_600_000, day: 86_400_000 };

/** The granularities a scope is read in (see above): hours everywhere, days for the org only. */
export const granularitiesOf = (scope: LatencyScope): readonly LatencyGranularity[] => (scope.kind === 'org' ? LATENCY_GRANULARITIES : HOURS_ONLY);
const HOURS_ONLY: readonly LatencyGranularity[] = ['hour'];

export const toolKey = (server: string, tool: string) => JSON.stringify([server, tool]);
export const scopeName = (scope: LatencyScope) => (scope.kind === 'org' ? 'org' : `${scope.kind}:${encodeURIComponent(scope.id)}`);

/** The start of the bucket holding the instant (ms since the epoch). */
export const periodStart = (ms: number, granularity: LatencyGranularity) => ms - (((ms % PERIOD_LENGTH_MS[granularity]) + PERIOD_LENGTH_MS[granularity]) % PERIOD_LENGTH_MS[granularity]);

/** Ids avoid '/', '\\', '?' and '#' (Cosmos DB) because scope ids are URI-encoded. */
export function latencyBucketId(scope: LatencyScope, granularity: LatencyGranularity, periodMs: number): string {
  return `${granularity}|${periodText(periodMs)}|${scopeName(scope)}`;
}

/** Every interaction names six buckets, nearly always of the same few periods: their ISO text is kept, not remade. */
const periodTexts = new Map<number, string>();
function periodText(periodMs: number): string {
  let text = periodTexts.get(periodMs);
  if (text === undefined) {
    if (periodTexts.size >= 1024) periodTexts.clear();
    periodTexts.set(periodMs, (text = new Date(periodMs).toISOString()));
  }
  return text;
}

/**
 * A session's project and user are in its id too: km gives a session one of each, but events come from outside, and
 * a call must count for the project and user it names, whichever event of the session came first.
 */
export const sessionDayId = (event: Pick<Interaction, 'sessionId' | 'projectId' | 'userId'>, dayMs: number) =>
  `session|${periodText(dayMs)}|${[event.sessionId, event.projectId, event.userId].map(encodeURIComponent).join('|')}`;
const isSessionDayId = (docId: string) => docId.startsWith('session|');

function parseBucketId(docId: string): { granularity: LatencyGranularity; period: string; scope: string } {
  const [granularity, period, ...scope] = docId.split('|');
  if (!isGranularity(granularity) || !period || scope.length !== 1) throw new Error(`not a latency bucket id: ${docId}`);
  return { granularity, period, scope: scope[0]! };
}

const isGranularity = (text: string | undefined): text is LatencyGranularity => (LATENCY_GRANULARITIES as readonly string[]).includes(text ?? '');

/** The tool a call acted on: only tools/call has one (a resource URI or prompt name is not a tool). */
export const toolOf = (event: Pick<Interaction, 'method' | 'target'>) => (event.method === 'tools/call' && event.target !== null ? event.target : null);

const ORG: LatencyScope = { kind: 'org' };

export const latencyProjection: Projection<LatencyDoc> = {
  name: 'latency',
  docIds(event) {
    // A call km's policy refused never reached the server: its answer took km no time worth timing.
    if (event.type !== 'mcp.interaction' || !reachedServer(event)) return [];
    const startedMs = Date.parse(event.startedAt);
    return [...LATENCY_GRANULARITIES.map((granularity) => latencyBucketId(ORG, granularity, periodStart(startedMs, granularity))), sessionDayId(event, periodStart(startedMs, 'day'))];
  },
  evolve: (state, event, docId) => foldDoc(state, [event], docId),
  evolveBatch: (state, events, docId) => foldDoc(state, events, docId),
};

function foldDoc(state: LatencyDoc | null, events: readonly KmEvent[], docId: string): LatencyDoc {
  const first = events[0];
  if (!first) {
    if (state) return state;
    throw new Error('latency: a document cannot be made from no events');
  }
  if (isSessionDayId(docId)) return foldSessionDay(state as SessionDayDoc | null, events, docId);
  const doc: LatencyBucketDoc = state ? withoutIdLists(state as LatencyBucketDoc) : emptyBucket(first, docId);
  return { ...doc, ...foldStats(doc, events) };
}

/** A session day's hours, each folded like a bucket (the events of a batch grouped by hour first). */
function foldSessionDay(state: SessionDayDoc | null, events: readonly KmEvent[], docId: string): SessionDayDoc {
  const first = events[0]!;
  if (first.type !== 'mcp.interaction') throw new Error(`latency cannot fold ${first.type}`);
  const doc: SessionDayDoc = state ?? {
    id: docId,
    orgId: first.orgId,
    kind: 'sessionDay',
    sessionId: first.sessionId,
    projectId: first.projectId,
    userId: first.userId,
    day: periodText(periodStart(Date.parse(first.startedAt), 'day')),
    hours: ownRecord({}),
  };
  const byHour = new Map<string, KmEvent[]>();
  for (const event of events) {
    if (event.type !== 'mcp.interaction') throw new Error(`latency cannot fold ${event.type}`);
    const hour = periodText(periodStart(Date.parse(event.startedAt), 'hour'));
    const inHour = byHour.get(hour);
    if (inHour) inHour.push(event);
    else byHour.set(hour, [event]);
  }
  let hours = ownRecord(doc.hours);
  for (const [hour, inHour] of byHour) {
    const stored = own(doc.hours, hour) ?? emptyStatsPart();
    const folded = foldStats({ ...stored, slowest: stored.slowest.map((entry) => slowInteractionOf(entry, doc.sessionId)) }, inHour);
    hours[hour] = { ...folded, slowest: folded.slowest.map(slowRow) };
  }
  // Hours of a document written before rows come out as rows too, so the document is the same however it was made.
  for (const [hour, part] of Object.entries(hours)) {
    if (!byHour.has(hour) && part.slowest.some((entry) => !Array.isArray(entry))) hours[hour] = { ...part, slowest: part.slowest.map((entry) => slowRow(slowInteractionOf(entry, doc.sessionId))) };
  }
  if ([...byHour.keys()].some((hour) => own(doc.hours, hour) === undefined)) hours = sortedCounts(hours);
  return { ...doc, hours };
}

const emptyStatsPart = (): BucketStats<StoredStats, StoredStats<ToolStats>> => ({ total: {}, servers: ownRecord({}), tools: ownRecord({}), methods: ownRecord({}), slowest: [] });

/**
 * Folds a batch into a bucket's stats: each stats the batch touches is expanded once, added to in place and stored
 * once, and the slowest list is cut once, instead of a copy per interaction (issue 11). Same stats as one by one:
 * every part is a sum, a min/max or a top-N of a set.
 */
function foldStats(doc: BucketStats<StoredStats, StoredStats<ToolStats>>, events: readonly KmEvent[]): BucketStats<StoredStats, StoredStats<ToolStats>> {
  const total = new StatsAccumulator(doc.total);
  const servers = new Accumulators(doc.servers);
  const methods = new Accumulators(doc.methods);
  const tools = new Accumulators(doc.tools);
  const toolNames = new Map<string, { server: string; tool: string }>();
  const slower: SlowInteraction[] = [];
  for (const event of events) {
    if (event.type !== 'mcp.interaction') throw new Error(`latency cannot fold ${event.type}`);
    const server = event.server.name;
    const tool = toolOf(event);
    total.add(event);
    servers.of(server).add(event);
    methods.of(event.method).add(event);
    if (tool !== null) {
      const key = toolKey(server, tool);
      tools.of(key).add(event);
      toolNames.set(key, { server, tool });
    }
    if (event.latencyMs !== null && !outranked(doc.slowest, event.latencyMs, event.id)) slower.push(slowInteraction(event, event.latencyMs));
  }
  return {
    total: storedStats(total.result()),
    servers: servers.stored(),
    tools: tools.stored(toolNames) as Record<string, StoredStats<ToolStats>>,
    methods: methods.stored(),
    slowest: slower.length > 0 ? keepSlowest([...doc.slowest, ...slower], SLOWEST_KEPT) : doc.slowest,
  };
}

/** The stats of one record of a bucket (servers, tools or methods) as a batch adds to them; keys come from events. */
class Accumulators {
  private readonly touched = new Map<string, StatsAccumulator>();

  constructor(private readonly record: Record<string, StoredStats>) {}

  of(key: string): StatsAccumulator {
    let stats = this.touched.get(key);
    if (!stats) this.touched.set(key, (stats = new StatsAccumulator(own(this.record, key) ?? {})));
    return stats;
  }

  /**
   * The record with the touched stats replaced (with their labels: a tool's server and name), sorted by key.
   * Untouched ones are re-stored too, so a document written in an older form (full stats, [key, count] bins) comes
   * out in the current one.
   */
  stored(labels?: ReadonlyMap<string, object>): Record<string, StoredStats> {
    const out = ownRecord<StoredStats>({});
    const store = (key: string, stats: StatsAccumulator) => (out[key] = storedStats({ ...stats.result(), ...labels?.get(key) }));
    // The record's keys are sorted already (it was stored so): only a batch that adds a key needs a sort.
    for (const key of Object.keys(this.record)) {
      const touched = this.touched.get(key);
      const stats = this.record[key]!;
      if (touched) store(key, touched);
      else out[key] = isStoredForm(stats) ? stats : storedStats(expandStats(stats));
    }
    let added = false;
    for (const [key, stats] of this.touched) {
      if (own(out, key) !== undefined) continue;
      store(key, stats);
      added = true;
    }
    return added ? sortedCounts(out) : out;
  }
}

/**
 * The stored document with every stats field present, its records copied prototype-free (keys come from events) and
 * its sketches packed, for a reader that wants every field (folds add through StatsAccumulator; queries merge the
 * stored stats as they are). Documents written before (full stats, [key, count] sketch bins) expand to the same.
 */
export function expandBucket(doc: LatencyBucketDoc): LatencyBucket {
  return { ...doc, total: expandStats(doc.total), servers: expandRecord(doc.servers), tools: expandRecord(doc.tools), methods: expandRecord(doc.methods) };
}

function expandRecord<T extends LatencyStats>(record: Record<string, StoredStats<T>>): Record<string, T> {
  const expanded = ownRecord<T>({});
  for (const key of Object.keys(record)) expanded[key] = expandStats(record[key]!);
  return expanded;
}


/** A bucket before its first call, as stored (stats at their empty value are left out). */
function emptyBucket(event: KmEvent, docId: string): LatencyBucketDoc {
  const { granularity, period, scope } = parseBucketId(docId);
  return { id: docId, orgId: event.orgId, scope, granularity, period, total: {}, servers: ownRecord({}), tools: ownRecord({}), methods: ownRecord({}), slowest: [] };
}

function slowInteraction(event: Interaction, latencyMs: number): SlowInteraction {
  return { id: event.id, sessionId: event.sessionId, server: event.server.name, tool: toolOf(event), method: event.method, latencyMs, startedAt: event.startedAt, outcome: event.outcome };
}

/** Whether a full top-N list already holds N calls that all rank before this one (most calls, once a bucket is busy). */
function outranked(slowest: SlowInteraction[], latencyMs: number, id: string): boolean {
  const last = slowest[SLOWEST_KEPT - 1];
  return last !== undefined && (latencyMs < last.latencyMs || (latencyMs === last.latencyMs && id > last.id));
}

/** Slowest first, ties by id: a total order, so the top N of a set never depends on the order it was built in. */
export function keepSlowest(rows: SlowInteraction[], n: number): SlowInteraction[] {
  const seen = new Set<string>();
  return rows
    .filter((row) => !seen.has(row.id) && seen.add(row.id))
    .sort((a, b) => b.latencyMs - a.latencyMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, n);
}

/** Waiting time of one session by tool: the per-session bottleneck view (a session always talks to one server). */
export interface SessionWait {
  /** null: every method other than tools/call (initialize, resources/read, prompts/get, ...). */
  tool: string | null;
  totalMicros: number;
  count: number;
}

/**
 * The documents of the read model `latencySessions`, which km.db files written before its waits moved into the
 * session documents (SessionDoc.waits, issue 11) still hold: GET /api/latency/bottlenecks?sessionId adds them.
 */
export interface LatencySessionDoc {
  id: string;
  orgId: string;
  sessionId: string;
  projectId: string;
  server: string;
  /** Keyed by `tool:<name>` or `other`, sorted. */
  waits: Record<string, SessionWait>;
  firstEventId: string | null;
}
export const LEGACY_LATENCY_SESSIONS_MODEL = 'latencySessions';

/** The waits with one more interaction's: keyed by `tool:<name>` or `other`, sorted, without a prototype. */
export function addSessionWait(waits: Readonly<Record<string, SessionWait>> | undefined, event: Interaction): Record<string, SessionWait> {
  const tool = toolOf(event);
  const key = tool === null ? 'other' : `tool:${tool}`;
  const record = waits ?? {};
  const wait = own(record, key) ?? { tool, totalMicros: 0, count: 0 };
  const micros = event.latencyMs === null ? 0 : latencyMicros(event.latencyMs);
  return withKey(record as Record<string, SessionWait>, key, { tool, totalMicros: wait.totalMicros + micros, count: wait.count + 1 });
}
