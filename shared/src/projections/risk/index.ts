import type { FindingStatus, FindingStatusChanged, KmEvent } from '../../events';
import { findingKind } from '../../risk/catalog';
import type { FindingKind, Severity } from '../../risk/rules';
import { own, ownRecord, reachedServer, sortedIndex, withoutIdLists, type Projection } from '../projection';
import { copyUsage, countCall, emptyUsage, judgeUsage, mergeUsage, type FirstUse, type UsageCounts } from './usage';

export { SPIKE_MIN_CALLS, SPIKE_FACTOR, ERROR_BURST_MIN, DAYS_KEPT } from './usage';
export type { UsageCounts, FirstUse } from './usage';

/**
 * The risk read model: one document per finding, except a tool's anomalies, which live in the document of its server
 * (per project) so that a call writes one anomaly document, not one per tool. Findings come from the wrapper (inside
 * interactions, in risk.detected, as policy.blocked) or from the fold itself (anomalies: first use of a server or
 * tool, volume spikes, error bursts, many files, unusual hours). Status changes are server-made events (ack,
 * resolve): the newest one by event id wins, whatever the order in which the fold sees them, and a status event may
 * even arrive before its finding (the doc waits, hidden).
 */
export interface RiskFindingDoc {
  id: string;
  orgId: string;
  /** False while only a status event has been folded: queries skip such documents. */
  detected: boolean;
  kind: FindingKind;
  ruleId: string;
  severity: Severity;
  path: string;
  sessionId: string | null;
  interactionId: string | null;
  server: string | null;
  tool: string | null;
  userId: string | null;
  projectId: string | null;
  ts: string;
  day: string;
  status: FindingStatus;
  statusEventId: string | null;
  statusChangedAt: string | null;
  /** Redacted preview of the message the finding is in (metadata capture: null). */
  preview: string | null;
  /**
   * When the API accepted the call whose preview this is (set with a preview, where the event has it): the retention
   * sweep finds by it the findings folded since its last pass, however old their own time.
   */
  receivedAt?: string;
  detail: string | null;
  /** Anomaly documents keep what they are computed from. */
  anomaly: AnomalyState | null;
  /** Set on a tool's finding read out of its server's document (expandFindings): status events go to that document. */
  holderId?: string;
}

/**
 * Anomaly documents keep what they are computed from. The one per (project, server) counts the server's calls and,
 * under tools, each tool's: at most MAX_TOOLS_KEPT tools, each at most DAYS_KEPT days, so it is bounded by the tools
 * of one server, not by the calls. Its tools' findings are read out of it (expandFindings), one per tool.
 */
export interface AnomalyState extends UsageCounts {
  /** Per tool of the server (a prototype-free record: tool names come from outside). */
  tools?: Record<string, UsageCounts>;
  /** The status of each tool's finding, by finding id: one per finding acknowledged or resolved through the API. */
  toolStatus?: Record<string, StatusMark>;
  /** Many files in one session: hashes of the distinct files touched (never the paths), the smallest MAX_FILES_KEPT. */
  files?: string[];
  /**
   * Unusual hours, in the org's document of one UTC hour of the day: each user's calls in that hour and the latest.
   * Bounded by the org's users, and a batch writes the one or two hours it spans, not a document per user.
   */
  users?: Record<string, HourUse>;
  /** Unusual hours, in a user's own document from before the org's hour documents: calls and the latest call per UTC hour. */
  hours?: number[];
  lastByHour?: string[];
}

/** One user's calls in one UTC hour of the day, and the latest of them. */
export interface HourUse {
  calls: number;
  last: string;
}

/** A status change: the newest by event id wins, whatever the order the fold sees them in. */
export interface StatusMark {
  status: FindingStatus;
  eventId: string;
  at: string;
}

export type RiskFindingView = Pick<
  RiskFindingDoc,
  'id' | 'kind' | 'ruleId' | 'severity' | 'path' | 'sessionId' | 'interactionId' | 'server' | 'tool' | 'userId' | 'projectId' | 'ts' | 'status' | 'preview' | 'detail'
>;

export function riskFindingView(doc: RiskFindingDoc): RiskFindingView {
  const { id, kind, ruleId, severity, path, sessionId, interactionId, server, tool, userId, projectId, ts, status, preview, detail } = doc;
  return { id, kind, ruleId, severity, path, sessionId, interactionId, server, tool, userId, projectId, ts, status, preview, detail };
}

/** FNV-1a, 53 bits: a stable short id for documents keyed by user-chosen names. */
function hashKey(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(36) + h2.toString(36);
}

/** Many files in one session: this many distinct files. */
export const MANY_FILES = 50;
const MAX_FILES_KEPT = 1000;
/** Unusual hours: once a user has this many calls, an hour holding under this share of them stands out. */
export const HOURS_MIN_CALLS = 200;
const HOURS_RARE_SHARE = 0.01;

const FILE_ARGUMENT = /"(?:path|paths|file|files|filePath|file_path|filename|source|destination|uri)"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|\[((?:\s*"(?:[^"\\]|\\.)*"\s*,?)*)\])/g;

/** The files an interaction touched: the URI of resources/read, path-like arguments in the request preview. */
export function touchedFiles(event: Extract<KmEvent, { type: 'mcp.interaction' }>): string[] {
  if (event.method === 'resources/read' && event.target) return [event.target];
  if (event.method !== 'tools/call' || !event.requestPreview) return [];
  const files: string[] = [];
  for (const m of event.requestPreview.matchAll(FILE_ARGUMENT)) {
    if (m[1] !== undefined) files.push(m[1]);
    else if (m[2] !== undefined) for (const item of m[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)) files.push(item[1]!);
  }
  return files.filter((f) => f.length > 0 && !f.startsWith('[REDACTED'));
}

/** Tools counted per server document: the lexically smallest names, so which ones is order-free. */
export const MAX_TOOLS_KEPT = 500;

type Interaction = Extract<KmEvent, { type: 'mcp.interaction' }>;
type RiskEvent = KmEvent | FindingStatusChanged;

/**
 * A session's many-files finding: the id of the risk document that counted its files before they moved into the
 * session's document (sessions read model), so acks still match and status events still go there.
 */
export const filesFindingId = (sessionId: string) => `anomaly-files-${hashKey(sessionId)}`;
const UNUSUAL_HOURS = 'anomaly-unusual-hours';
const HOUR_OF_DAY_PREFIX = 'anomaly-hour-of-day-';
/** The org's document of the UTC hour of the day a call started in (24 per org). */
const hourOfDayDocId = (event: Interaction) => `${HOUR_OF_DAY_PREFIX}${event.startedAt.slice(11, 13)}`;
/**
 * A user's unusual-hours finding: the id of the document that counted the user's hours before they moved into the
 * org's hour documents, so acks still match and status events still go there.
 */
export const hoursFindingId = (userId: string) => `anomaly-hours-${hashKey(userId)}`;
/**
 * The ids of usage documents and tool findings, kept once made: every finding list makes one per tool of every server
 * (thousands), and hashing their names each time was a fifteenth of the risk routes' time (issue 11). The names
 * come from events, so the memo is a Map, emptied when it grows past its bound.
 */
const usageIds = new Map<string, string>();
const MAX_USAGE_IDS = 50_000;
function usageId(projectId: string, server: string, tool: string): string {
  // Lengths first: no two name triples make the same key.
  const key = `${projectId.length}:${projectId}${server.length}:${server}${tool}`;
  let id = usageIds.get(key);
  if (id === undefined) {
    if (usageIds.size >= MAX_USAGE_IDS) usageIds.clear();
    usageIds.set(key, (id = `anomaly-${hashKey(JSON.stringify([projectId, server, tool]))}`));
  }
  return id;
}
/** The document of a server in a project: its own anomalies and its tools'. */
export const serverDocId = (projectId: string, server: string) => usageId(projectId, server, '*');
/**
 * A tool's anomaly finding: the id its own document had before tools moved into their server's, so acks still match.
 * A tool named `*` (servers name their tools) would have its server's id, and take over the server's finding.
 */
export const toolFindingId = (projectId: string, server: string, tool: string) => (tool === '*' ? `anomaly-${hashKey(JSON.stringify([projectId, server, '*', 'tool']))}` : usageId(projectId, server, tool));

/**
 * Who a usage verdict names: a first use is one call's (its session and user); a spike or a burst is a day of many
 * calls, perhaps by many users, so it names none. Naming the first caller ever put it on that user and session,
 * and a user filter showed it to them and not to whoever made the calls.
 */
const namedBy = (verdict: { ruleId: string }, first: FirstUse) =>
  verdict.ruleId === 'anomaly-first-use' ? { sessionId: first.sessionId, userId: first.userId, interactionId: first.eventId } : { sessionId: null, userId: null, interactionId: null };
const findingDocId = (eventId: string, index: number) => `${eventId}.${index}`;

/** A document before any finding: its time is set by what it finds, not by whichever event came first (order-free). */
function blank(id: string, event: { orgId: string }): RiskFindingDoc {
  return {
    id,
    orgId: event.orgId,
    detected: false,
    kind: 'secret',
    ruleId: '',
    severity: 'low',
    path: '',
    sessionId: null,
    interactionId: null,
    server: null,
    tool: null,
    userId: null,
    projectId: null,
    ts: '',
    day: '',
    status: 'open',
    statusEventId: null,
    statusChangedAt: null,
    preview: null,
    detail: null,
    anomaly: null,
  };
}

/** A copy of a stored document that one batch may change: the only copy the batch makes. */
function draftOf(doc: RiskFindingDoc): RiskFindingDoc {
  const draft = withoutIdLists({ ...doc });
  if (doc.anomaly) draft.anomaly = copyAnomaly(doc.anomaly);
  return draft;
}

function copyAnomaly(state: AnomalyState): AnomalyState {
  const copy: AnomalyState = { ...state, ...copyUsage(state) };
  if (state.tools) copy.tools = Object.assign(Object.create(null), Object.fromEntries(Object.entries(state.tools).map(([tool, counts]) => [tool, copyUsage(counts)])));
  if (state.toolStatus) copy.toolStatus = ownRecord(state.toolStatus);
  if (state.files) copy.files = [...state.files];
  if (state.users) copy.users = ownRecord(state.users);
  if (state.hours) copy.hours = [...state.hours];
  if (state.lastByHour) copy.lastByHour = [...state.lastByHour];
  return copy;
}

function detectedFrom(event: KmEvent, fields: Pick<RiskFindingDoc, 'ruleId' | 'severity' | 'path' | 'interactionId' | 'tool' | 'preview' | 'detail'>) {
  return {
    detected: true,
    kind: findingKind(fields.ruleId),
    sessionId: event.sessionId,
    server: event.server.name,
    userId: event.userId,
    projectId: event.projectId,
    ts: event.ts,
    day: event.ts.slice(0, 10),
    ...fields,
  };
}

const emptyAnomaly = (): AnomalyState => emptyUsage();
const failed = (event: Interaction) => event.outcome === 'error' || event.outcome === 'tool_error';
const firstUseOf = (event: Interaction) => ({ ts: event.startedAt, eventId: event.id, sessionId: event.sessionId, userId: event.userId });

/** The counts of a tool, made room for (dropping the largest name past MAX_TOOLS_KEPT); null when it is left out. */
function toolCounts(tools: Record<string, UsageCounts>, tool: string): UsageCounts | null {
  const counts = own(tools, tool);
  if (counts) return counts;
  const names = Object.keys(tools);
  if (names.length >= MAX_TOOLS_KEPT) {
    const largest = names.reduce((a, b) => (a >= b ? a : b));
    if (tool > largest) return null;
    delete tools[largest];
  }
  return (tools[tool] = emptyUsage());
}

/** Counts a call into its server's document (a draft): the server's counts and, for tools/call, the tool's. */
function countServerCall(doc: RiskFindingDoc, event: Interaction): void {
  const state = (doc.anomaly ??= emptyAnomaly());
  const day = event.startedAt.slice(0, 10);
  countCall(state, day, failed(event), firstUseOf(event));
  if (event.method === 'tools/call' && event.target) {
    const counts = toolCounts((state.tools ??= Object.create(null) as Record<string, UsageCounts>), event.target);
    if (counts) countCall(counts, day, failed(event), firstUseOf(event));
  }
  doc.server = event.server.name;
  doc.projectId = event.projectId;
}

/** The server's own finding, from its counts (once per batch: a function of the counts, so order does not matter). */
function judgeServer(doc: RiskFindingDoc): void {
  const first = doc.anomaly?.first;
  if (!first || doc.server === null || doc.projectId === null) return;
  const verdict = judgeUsage(doc.anomaly!, `server ${doc.server}`, doc.projectId, first);
  Object.assign(doc, { detected: true, kind: 'anomaly', tool: null, ...namedBy(verdict, first), path: '$', preview: null, ...verdict });
}

/** Adds the smallest MAX_FILES_KEPT hashes (order-free); false when the set did not change. */
function addFileHash(files: string[], hash: string): boolean {
  const at = sortedIndex(files, hash);
  if (files[at] === hash || at >= MAX_FILES_KEPT) return false;
  files.splice(at, 0, hash);
  if (files.length > MAX_FILES_KEPT) files.pop();
  return true;
}

/** The hashes of the files a call touched (never the paths). */
export const touchedFileHashes = (event: Interaction): string[] => touchedFiles(event).map(hashKey);

/**
 * A session's file hashes (sorted, the smallest MAX_FILES_KEPT) with these added; null when the set does not
 * change. The session document keeps them (sessions read model): the document a batch writes for the session
 * anyway, where a risk document per session was a second write.
 */
export function withFileHashes(files: readonly string[] | undefined, hashes: readonly string[]): string[] | null {
  const next = [...(files ?? [])];
  let changed = false;
  for (const hash of hashes) changed = addFileHash(next, hash) || changed;
  return changed ? next : null;
}

/** What a session's files are judged on: its document's hashes and the time of its first call touching a file. */
export interface SessionFiles {
  id: string;
  orgId: string;
  projectId: string;
  userId: string;
  server: { name: string };
  files?: string[];
  filesSince?: string;
}

/** A session's many-files finding, from its hashes (and those of its risk document from before, if read). */
function filesFinding(session: SessionFiles, holder: RiskFindingDoc | undefined): RiskFindingDoc | null {
  const files = [...(session.files ?? [])];
  let ts = session.filesSince ?? '';
  const older = holder?.anomaly?.files;
  if (older) {
    for (const hash of older) addFileHash(files, hash);
    if (holder.ts && (ts === '' || holder.ts < ts)) ts = holder.ts;
  }
  if (files.length < MANY_FILES) return null;
  const id = filesFindingId(session.id);
  return {
    ...blank(id, session),
    detected: true,
    kind: 'anomaly',
    ruleId: 'anomaly-many-files',
    severity: 'medium',
    path: '$',
    sessionId: session.id,
    server: session.server.name,
    userId: session.userId,
    projectId: session.projectId,
    ts,
    day: ts.slice(0, 10),
    detail: `${files.length >= MAX_FILES_KEPT ? `${MAX_FILES_KEPT}+` : files.length} distinct files touched in one session`,
    ...(holder?.statusEventId ? { status: holder.status, statusEventId: holder.statusEventId, statusChangedAt: holder.statusChangedAt } : {}),
  };
}

/** A call counted into the org's document of its hour of the day (a draft): its user's calls there and the latest. */
function countHourOfDay(doc: RiskFindingDoc, event: Interaction): void {
  const state = (doc.anomaly ??= emptyAnomaly());
  const users = (state.users ??= Object.create(null) as Record<string, HourUse>);
  const use = own(users, event.userId);
  users[event.userId] = { calls: (use?.calls ?? 0) + 1, last: use && use.last >= event.startedAt ? use.last : event.startedAt };
  // Never a finding itself (detected stays false): kind and rule let the anomaly scans read it with the others.
  Object.assign(doc, { kind: 'anomaly', ruleId: UNUSUAL_HOURS, path: '$', preview: null });
}

/** An hour document's time is its users' latest call (a function of the counts, so order-free). */
function judgeHourOfDay(doc: RiskFindingDoc): void {
  doc.ts = Object.values(doc.anomaly?.users ?? {}).reduce((latest, use) => later(latest, use.last), '');
  doc.day = doc.ts.slice(0, 10);
}

/** A user's unusual-hours finding, judged from their calls per hour of the day (read out of the hour documents). */
function judgeHours(doc: RiskFindingDoc): void {
  const hours = doc.anomaly?.hours;
  const lastByHour = doc.anomaly?.lastByHour;
  if (!hours || !lastByHour) return;
  const total = hours.reduce((a, b) => a + b, 0);
  const rare = total >= HOURS_MIN_CALLS ? hours.flatMap((n, h) => (n > 0 && n < HOURS_RARE_SHARE * total ? [h] : [])) : [];
  if (rare.length === 0) {
    // Not a finding yet: its time is the user's latest call, a function of the counts (not of the first event folded).
    doc.ts = lastByHour.reduce(later, '');
    doc.day = doc.ts.slice(0, 10);
    return;
  }
  const latest = rare.reduce((best, h) => (lastByHour[h]! > lastByHour[best]! ? h : best));
  Object.assign(doc, { detected: true, kind: 'anomaly', ruleId: 'anomaly-unusual-hours', severity: 'low', ts: lastByHour[latest]!, day: lastByHour[latest]!.slice(0, 10) });
  doc.detail = `${hours[latest]} of ${total} calls by ${doc.userId} at ${String(latest).padStart(2, '0')}:00 UTC, an hour holding under ${HOURS_RARE_SHARE * 100}% of their calls`;
}

const later = (a: string, b: string) => (a >= b ? a : b);
const newer = (mark: StatusMark | undefined, eventId: string) => !mark || eventId > mark.eventId;

/** A status event: on the document's own finding, or (in a server's document) on one of its tools'. */
function applyStatus(doc: RiskFindingDoc, event: FindingStatusChanged): boolean {
  const mark = { status: event.status, eventId: event.id, at: event.ts };
  if (event.findingId !== doc.id) {
    const state = (doc.anomaly ??= emptyAnomaly());
    const marks = (state.toolStatus ??= Object.create(null) as Record<string, StatusMark>);
    if (!newer(own(marks, event.findingId), event.id)) return false;
    marks[event.findingId] = mark;
    return true;
  }
  if (doc.statusEventId !== null && event.id <= doc.statusEventId) return false;
  Object.assign(doc, { status: mark.status, statusEventId: mark.eventId, statusChangedAt: mark.at });
  return true;
}

type DocRole = 'server' | 'hours' | 'finding';

function roleOf(docId: string, event: Interaction): DocRole {
  if (docId === hourOfDayDocId(event)) return 'hours';
  if (docId === serverDocId(event.projectId, event.server.name)) return 'server';
  return 'finding';
}

/** Folds one event into the draft; false when it changed nothing. */
function apply(doc: RiskFindingDoc, event: RiskEvent, docId: string, roles: Set<DocRole>): boolean {
  switch (event.type) {
    case 'mcp.interaction': {
      const role = roleOf(docId, event);
      roles.add(role);
      if (role === 'hours') countHourOfDay(doc, event);
      else if (role === 'server') countServerCall(doc, event);
      else {
        const finding = event.findings[Number(docId.slice(event.id.length + 1))];
        if (!finding) return false;
        const preview = finding.path.startsWith('$.params') ? event.requestPreview : event.responsePreview;
        Object.assign(doc, detectedFrom(event, { ...finding, interactionId: event.id, tool: event.target, preview, detail: `${event.method}${event.target ? ` ${event.target}` : ''}` }));
        const { receivedAt } = event as { receivedAt?: unknown };
        if (preview != null && typeof receivedAt === 'string') doc.receivedAt = receivedAt;
      }
      return true;
    }
    case 'risk.detected': {
      const finding = event.findings[Number(docId.slice(event.id.length + 1))];
      if (!finding) return false;
      Object.assign(doc, detectedFrom(event, { ...finding, interactionId: null, tool: event.target, preview: null, detail: event.detail }));
      return true;
    }
    case 'policy.blocked': {
      const severity: Severity = event.ruleId === 'policy-secret-in-request' ? 'high' : 'medium';
      const ruleId = event.ruleId.startsWith('policy-') ? event.ruleId : `policy-${event.ruleId}`;
      Object.assign(doc, detectedFrom(event, { ruleId, severity, path: '$.params', interactionId: null, tool: event.target, preview: null, detail: event.reason }));
      return true;
    }
    case 'risk.finding_status':
      return applyStatus(doc, event);
    default:
      return false;
  }
}

const JUDGES: Record<DocRole, (doc: RiskFindingDoc) => void> = { server: judgeServer, hours: judgeHourOfDay, finding: () => {} };

/** The batch folded into one draft, judged once at the end; the stored document itself when nothing changed. */
function foldBatch(state: RiskFindingDoc | null, events: readonly RiskEvent[], docId: string): RiskFindingDoc {
  const doc = state ? draftOf(state) : blank(docId, events[0]!);
  const roles = new Set<DocRole>();
  let changed = false;
  for (const event of events) changed = apply(doc, event, docId, roles) || changed;
  if (state && !changed) return state;
  for (const role of roles) JUDGES[role](doc);
  return doc;
}

/** A tool's finding, read out of its server's document (with the counts of its old own document, if any). */
function toolFinding(server: RiskFindingDoc, tool: string, counts: UsageCounts, old: RiskFindingDoc | undefined): RiskFindingDoc | null {
  const id = toolFindingId(server.projectId!, server.server!, tool);
  const merged = old?.anomaly ? mergeUsage(counts, old.anomaly) : counts;
  const first = merged.first;
  if (!first) return null;
  const verdict = judgeUsage(merged, `tool ${tool} of ${server.server}`, server.projectId!, first);
  // Only tools: a server that answered anything exists, while a tool name an agent made up is refused by the server.
  if (verdict.ruleId === 'anomaly-first-use' && merged.failedOnly) return null;
  const mark = own(server.anomaly?.toolStatus ?? {}, id);
  const oldMark = old?.statusEventId ? { status: old.status, eventId: old.statusEventId, at: old.statusChangedAt ?? '' } : undefined;
  const status = oldMark && newer(mark, oldMark.eventId) ? oldMark : mark;
  return {
    ...blank(id, server),
    detected: true,
    kind: 'anomaly',
    path: '$',
    server: server.server,
    projectId: server.projectId,
    tool,
    ...namedBy(verdict, first),
    ...verdict,
    ...(status ? { status: status.status, statusEventId: status.eventId, statusChangedAt: status.at } : {}),
    holderId: server.id,
  };
}

/**
 * A server document's tools' findings, by name (the order tools were first counted in depends on the order events
 * came in), each as judged from the server document alone. Kept per document object when the store handed it out
 * frozen (shared, so unchanged): a findings list expands every server's tools, thousands, on each request.
 */
const toolFindingsMemo = new WeakMap<RiskFindingDoc, ReadonlyArray<{ id: string; tool: string; finding: RiskFindingDoc | null }>>();
function toolFindingsOf(doc: RiskFindingDoc): ReadonlyArray<{ id: string; tool: string; finding: RiskFindingDoc | null }> {
  const tools = doc.anomaly?.tools;
  if (!tools || doc.projectId === null || doc.server === null) return [];
  const known = toolFindingsMemo.get(doc);
  if (known) return known;
  const expanded = Object.entries(tools)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tool, counts]) => {
      const finding = toolFinding(doc, tool, counts, undefined);
      return { id: toolFindingId(doc.projectId!, doc.server!, tool), tool, finding: finding && Object.freeze(finding) };
    });
  if (Object.isFrozen(doc)) toolFindingsMemo.set(doc, expanded);
  return expanded;
}

/** The store filter for documents made by status events alone (a status may come first; ruleId '' until a finding). */
export const STATUS_ONLY_WHERE = { ruleId: '' } as const;
/** The store filter for the documents users' unusual hours are judged from (the org's hour documents, users' own older ones). */
export const UNUSUAL_HOURS_WHERE = { ruleId: UNUSUAL_HOURS } as const;
export const isStatusOnly = (doc: RiskFindingDoc) => doc.ruleId === '' && doc.anomaly === null && doc.statusEventId !== null;

/** A user's calls per UTC hour of the day and the latest call in each. */
interface UserHours {
  hours: number[];
  lastByHour: string[];
}

/** A user's own hours document, from before the org's hour documents (still read: its counts add up). */
const isUserHoursDoc = (doc: RiskFindingDoc) => doc.ruleId === UNUSUAL_HOURS && Array.isArray(doc.anomaly?.hours) && doc.userId !== null;

/** Each user's hours: the org's hour documents added up, plus a user's own document from before them. */
function hoursByUser(docs: readonly RiskFindingDoc[]): Map<string, UserHours> {
  const byUser = new Map<string, UserHours>();
  const of = (user: string) => {
    let counts = byUser.get(user);
    if (!counts) byUser.set(user, (counts = { hours: new Array<number>(24).fill(0), lastByHour: new Array<string>(24).fill('') }));
    return counts;
  };
  for (const doc of docs) {
    if (doc.id.startsWith(HOUR_OF_DAY_PREFIX) && doc.anomaly?.users) {
      const hour = Number(doc.id.slice(HOUR_OF_DAY_PREFIX.length));
      for (const [user, use] of Object.entries(doc.anomaly.users)) {
        const counts = of(user);
        counts.hours[hour]! += use.calls;
        counts.lastByHour[hour] = later(counts.lastByHour[hour]!, use.last);
      }
    } else if (isUserHoursDoc(doc)) {
      const counts = of(doc.userId!);
      doc.anomaly!.hours!.forEach((calls, hour) => (counts.hours[hour]! += calls));
      doc.anomaly!.lastByHour?.forEach((last, hour) => (counts.lastByHour[hour] = later(counts.lastByHour[hour]!, last)));
    }
  }
  return byUser;
}

/** The unusual-hours findings of the org's users; the status is that of the finding's own document (its id). */
function hoursFindings(docs: readonly RiskFindingDoc[], byId: ReadonlyMap<string, RiskFindingDoc>): RiskFindingDoc[] {
  const findings: RiskFindingDoc[] = [];
  // By name, as tools: the order users were first counted in depends on the order documents were read in.
  for (const [user, counts] of [...hoursByUser(docs)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const id = hoursFindingId(user);
    const holder = byId.get(id);
    const doc: RiskFindingDoc = { ...blank(id, holder ?? docs[0]!), ruleId: UNUSUAL_HOURS, userId: user, path: '$', anomaly: { ...emptyAnomaly(), ...counts } };
    judgeHours(doc);
    if (!doc.detected) continue;
    if (holder?.statusEventId) Object.assign(doc, { status: holder.status, statusEventId: holder.statusEventId, statusChangedAt: holder.statusChangedAt });
    findings.push(doc);
  }
  return findings;
}

/**
 * The findings among risk documents, with each server document's tools' findings read out of it. Documents from
 * before tools moved into their server's (one per tool, same id) are merged into the tool's finding: its counts
 * add up and the newer status wins, so no finding shows twice; one whose server document has no such tool shows as
 * it was stored. A status-only document under a tool finding's id (the log of an older version rebuilt: its status
 * events named no documentId) gives that finding its status the same way. Users' unusual hours are judged from the
 * org's hour documents (and users' own documents from before them), and a session's many files from its session
 * document (sessions, those flagged manyFiles; with the hashes of its risk document from before, when that one was
 * read), the same way. A document read twice (by two scans) counts once.
 */
export function expandFindings(read: readonly RiskFindingDoc[], sessions: readonly SessionFiles[] = []): RiskFindingDoc[] {
  const byId = new Map(read.map((doc) => [doc.id, doc]));
  const docs = [...byId.values()];
  const derived = new Map<string, RiskFindingDoc>();
  for (const doc of docs) {
    for (const { id, tool, finding: alone } of toolFindingsOf(doc)) {
      const old = byId.get(id);
      const finding = old ? toolFinding(doc, tool, own(doc.anomaly!.tools!, tool)!, old) : alone;
      if (finding) derived.set(finding.id, finding);
    }
  }
  for (const session of sessions) {
    const finding = filesFinding(session, byId.get(filesFindingId(session.id)));
    if (finding) derived.set(finding.id, finding);
  }
  const kept = docs.filter((doc) => doc.detected && !derived.has(doc.id) && doc.ruleId !== UNUSUAL_HOURS).map(namedAsJudged);
  return [...kept, ...derived.values(), ...hoursFindings(docs, byId)];
}

/**
 * A stored usage finding naming whom its verdict names (namedBy): one judged a spike or a burst before those named
 * nobody kept its first caller until its server's next call, so a user filter showed it to them in the meantime.
 */
function namedAsJudged(doc: RiskFindingDoc): RiskFindingDoc {
  if (doc.kind !== 'anomaly' || (doc.ruleId !== 'anomaly-volume-spike' && doc.ruleId !== 'anomaly-error-burst')) return doc;
  return doc.userId === null && doc.sessionId === null && doc.interactionId === null ? doc : { ...doc, sessionId: null, userId: null, interactionId: null };
}

export const riskProjection: Projection<RiskFindingDoc, RiskEvent> = {
  name: 'risk',
  // Acknowledge and resolve arrive as server-made risk.finding_status events.
  foldsServerEvents: true,
  docIds(event) {
    switch (event.type) {
      case 'mcp.interaction': {
        const ids = event.findings.map((_, i) => findingDocId(event.id, i));
        if (event.direction === 'client_to_server') {
          // One anomaly document per (project, server): its tools are counted inside it. A call km's policy refused
          // is no use of its server or tool (the refusal is a finding of its own), though it is its user's call.
          if (reachedServer(event)) ids.push(serverDocId(event.projectId, event.server.name));
          // One org document per UTC hour of the day: each user's calls in it (their unusual hours).
          ids.push(hourOfDayDocId(event));
          // A session's files are counted in its session document (withTouchedFiles), not here.
        }
        return ids;
      }
      case 'risk.detected':
        return event.findings.map((_, i) => findingDocId(event.id, i));
      case 'policy.blocked':
        return [findingDocId(event.id, 0)];
      case 'risk.finding_status':
        return [event.documentId ?? event.findingId];
      default:
        return [];
    }
  },
  evolve: (state, event, docId) => foldBatch(state, [event], docId),
  evolveBatch: (state, events, docId) => (events.length === 0 ? (state as RiskFindingDoc) : foldBatch(state, events, docId)),
};
