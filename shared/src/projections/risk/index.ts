import type { FindingStatus, FindingStatusChanged, KmEvent } from '../../events';
import { findingKind } from '../../risk/catalog';
import type { FindingKind, Severity } from '../../risk/rules';
import { addAppliedId, withoutIdLists, type Projection } from '../projection';

/**
 * The risk read model: one document per finding. Findings come from the wrapper (inside interactions, in
 * risk.detected, as policy.blocked) or from the fold itself (anomalies: first use of a tool, volume spikes).
 * Status changes are server-made events (ack, resolve): the newest one by event id wins, whatever the order
 * in which the fold sees them, and a status event may even arrive before its finding (the doc waits, hidden).
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
  detail: string | null;
  /** Anomaly documents keep what they are computed from. */
  anomaly: AnomalyState | null;
}

/** Per (project, server, tool): calls and errors per UTC day, and the first use. */
export interface AnomalyState {
  calls: Record<string, number>;
  errors: Record<string, number>;
  first: { ts: string; eventId: string; sessionId: string; userId: string } | null;
  /** Many files in one session: hashes of the distinct files touched (never the paths). */
  files?: string[];
  /** Unusual hours per user: calls and the latest call per UTC hour of the day. */
  hours?: number[];
  lastByHour?: string[];
}

export type RiskFindingView = Pick<
  RiskFindingDoc,
  'id' | 'kind' | 'ruleId' | 'severity' | 'path' | 'sessionId' | 'interactionId' | 'server' | 'tool' | 'userId' | 'projectId' | 'ts' | 'status' | 'preview' | 'detail'
>;

export function riskFindingView(doc: RiskFindingDoc): RiskFindingView {
  const { id, kind, ruleId, severity, path, sessionId, interactionId, server, tool, userId, projectId, ts, status, preview, detail } = doc;
  return { id, kind, ruleId, severity, path, sessionId, interactionId, server, tool, userId, projectId, ts, status, preview, detail };
}

/** Volume spike: a day with this many calls and this many times the trailing mean. */
export const SPIKE_MIN_CALLS = 50;
export const SPIKE_FACTOR = 5;
const BASELINE_DAYS = 7;
/** Error burst: a day with this many errors making up this share of the calls. */
export const ERROR_BURST_MIN = 10;
const ERROR_BURST_SHARE = 0.5;

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

const filesDocId = (event: KmEvent) => `anomaly-files-${hashKey(event.sessionId)}`;
const hoursDocId = (event: KmEvent) => `anomaly-hours-${hashKey(event.userId)}`;

const anomalyDocId = (event: KmEvent, tool: string) => `anomaly-${hashKey(JSON.stringify([event.projectId, event.server.name, tool]))}`;
const findingDocId = (eventId: string, index: number) => `${eventId}.${index}`;

function blank(id: string, event: KmEvent | FindingStatusChanged): RiskFindingDoc {
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
    ts: event.ts,
    day: event.ts.slice(0, 10),
    status: 'open',
    statusEventId: null,
    statusChangedAt: null,
    preview: null,
    detail: null,
    anomaly: null,
  };
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

function evolveAnomaly(doc: RiskFindingDoc, event: Extract<KmEvent, { type: 'mcp.interaction' }>, tool: string): void {
  const state: AnomalyState = doc.anomaly ? { calls: { ...doc.anomaly.calls }, errors: { ...doc.anomaly.errors }, first: doc.anomaly.first } : { calls: {}, errors: {}, first: null };
  const day = event.startedAt.slice(0, 10);
  state.calls[day] = (state.calls[day] ?? 0) + 1;
  if (event.outcome === 'error' || event.outcome === 'tool_error') state.errors[day] = (state.errors[day] ?? 0) + 1;
  const candidate = { ts: event.startedAt, eventId: event.id, sessionId: event.sessionId, userId: event.userId };
  if (!state.first || candidate.ts < state.first.ts || (candidate.ts === state.first.ts && candidate.eventId < state.first.eventId)) state.first = candidate;
  doc.anomaly = state;
  doc.server = event.server.name;
  doc.projectId = event.projectId;
  doc.tool = tool === '*' ? null : tool;

  // The worst signal decides what the document reports; all are functions of the counts, so order does not matter.
  const days = Object.keys(state.calls).sort();
  let spike: { day: string; calls: number; mean: number } | null = null;
  let burst: { day: string; errors: number } | null = null;
  for (const d of days) {
    const calls = state.calls[d]!;
    const before = days.filter((x) => x < d).slice(-BASELINE_DAYS);
    if (before.length > 0) {
      const mean = before.reduce((sum, x) => sum + state.calls[x]!, 0) / BASELINE_DAYS;
      if (calls >= SPIKE_MIN_CALLS && calls >= SPIKE_FACTOR * Math.max(mean, 1)) spike = { day: d, calls, mean };
    }
    const errors = state.errors[d] ?? 0;
    if (errors >= ERROR_BURST_MIN && errors >= ERROR_BURST_SHARE * calls) burst = { day: d, errors };
  }
  const first = state.first!;
  const what = tool === '*' ? `server ${event.server.name}` : `tool ${tool} of ${event.server.name}`;
  Object.assign(doc, { detected: true, kind: 'anomaly', sessionId: first.sessionId, userId: first.userId, interactionId: first.eventId, path: '$', preview: null });
  if (spike) {
    Object.assign(doc, { ruleId: 'anomaly-volume-spike', severity: 'medium', ts: `${spike.day}T00:00:00.000Z`, day: spike.day });
    doc.detail = `${spike.calls} calls to ${what} on ${spike.day}, ${Math.round(spike.mean * 10) / 10} a day over the previous ${BASELINE_DAYS} days`;
  } else if (burst) {
    Object.assign(doc, { ruleId: 'anomaly-error-burst', severity: 'medium', ts: `${burst.day}T00:00:00.000Z`, day: burst.day });
    doc.detail = `${burst.errors} failed calls to ${what} on ${burst.day}`;
  } else {
    Object.assign(doc, { ruleId: 'anomaly-first-use', severity: 'low', ts: first.ts, day: first.ts.slice(0, 10) });
    doc.detail = `first use of ${what} in project ${event.projectId}`;
  }
}

const emptyAnomaly = (): AnomalyState => ({ calls: {}, errors: {}, first: null });

function evolveFiles(doc: RiskFindingDoc, event: Extract<KmEvent, { type: 'mcp.interaction' }>): void {
  const state = { ...(doc.anomaly ?? emptyAnomaly()) };
  const files = [...(state.files ?? [])];
  for (const file of touchedFiles(event)) if (files.length < MAX_FILES_KEPT) addAppliedId(files, hashKey(file));
  state.files = files;
  doc.anomaly = state;
  Object.assign(doc, { sessionId: event.sessionId, server: event.server.name, userId: event.userId, projectId: event.projectId, path: '$', preview: null });
  // The latest call of the session: a fresh document starts at its first event's time, so max is order-free.
  doc.ts = later(doc.ts, event.ts);
  doc.day = doc.ts.slice(0, 10);
  if (files.length >= MANY_FILES) {
    Object.assign(doc, { detected: true, kind: 'anomaly', ruleId: 'anomaly-many-files', severity: 'medium' });
    doc.detail = `${files.length >= MAX_FILES_KEPT ? `${MAX_FILES_KEPT}+` : files.length} distinct files touched in one session`;
  }
}

function evolveHours(doc: RiskFindingDoc, event: Extract<KmEvent, { type: 'mcp.interaction' }>): void {
  const state = { ...(doc.anomaly ?? emptyAnomaly()) };
  const hours = [...(state.hours ?? new Array<number>(24).fill(0))];
  const lastByHour = [...(state.lastByHour ?? new Array<string>(24).fill(''))];
  const hour = Number(event.startedAt.slice(11, 13));
  hours[hour] = hours[hour]! + 1;
  if (event.startedAt > lastByHour[hour]!) lastByHour[hour] = event.startedAt;
  Object.assign(state, { hours, lastByHour });
  doc.anomaly = state;
  Object.assign(doc, { userId: event.userId, path: '$', preview: null });
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
  doc.detail = `${hours[latest]} of ${total} calls by ${event.userId} at ${String(latest).padStart(2, '0')}:00 UTC, an hour holding under ${HOURS_RARE_SHARE * 100}% of their calls`;
}

const later = (a: string, b: string) => (a >= b ? a : b);

export const riskProjection: Projection<RiskFindingDoc, KmEvent | FindingStatusChanged> = {
  name: 'risk',
  // Acknowledge and resolve arrive as server-made risk.finding_status events.
  foldsServerEvents: true,
  docIds(event) {
    switch (event.type) {
      case 'mcp.interaction': {
        const ids = event.findings.map((_, i) => findingDocId(event.id, i));
        if (event.direction === 'client_to_server') {
          ids.push(anomalyDocId(event, '*'));
          if (event.method === 'tools/call' && event.target) ids.push(anomalyDocId(event, event.target));
          ids.push(hoursDocId(event));
          if (touchedFiles(event).length > 0) ids.push(filesDocId(event));
        }
        return ids;
      }
      case 'risk.detected':
        return event.findings.map((_, i) => findingDocId(event.id, i));
      case 'policy.blocked':
        return [findingDocId(event.id, 0)];
      case 'risk.finding_status':
        return [event.findingId];
      default:
        return [];
    }
  },
  evolve(state, event, docId) {
    const doc: RiskFindingDoc = state ? withoutIdLists(state) : blank(docId, event);
    switch (event.type) {
      case 'mcp.interaction': {
        if (docId === filesDocId(event)) {
          evolveFiles(doc, event);
          break;
        }
        if (docId === hoursDocId(event)) {
          evolveHours(doc, event);
          break;
        }
        if (docId.startsWith('anomaly-')) {
          evolveAnomaly(doc, event, docId === anomalyDocId(event, '*') ? '*' : event.target!);
          break;
        }
        const finding = event.findings[Number(docId.slice(event.id.length + 1))];
        if (!finding) break;
        const preview = finding.path.startsWith('$.params') ? event.requestPreview : event.responsePreview;
        Object.assign(doc, detectedFrom(event, { ...finding, interactionId: event.id, tool: event.target, preview, detail: `${event.method}${event.target ? ` ${event.target}` : ''}` }));
        break;
      }
      case 'risk.detected': {
        const finding = event.findings[Number(docId.slice(event.id.length + 1))];
        if (!finding) break;
        Object.assign(doc, detectedFrom(event, { ...finding, interactionId: null, tool: event.target, preview: null, detail: event.detail }));
        break;
      }
      case 'policy.blocked': {
        const severity: Severity = event.ruleId === 'policy-secret-in-request' ? 'high' : 'medium';
        const ruleId = event.ruleId.startsWith('policy-') ? event.ruleId : `policy-${event.ruleId}`;
        Object.assign(doc, detectedFrom(event, { ruleId, severity, path: '$.params', interactionId: null, tool: event.target, preview: null, detail: event.reason }));
        break;
      }
      case 'risk.finding_status':
        if (doc.statusEventId === null || event.id > doc.statusEventId) {
          doc.status = event.status;
          doc.statusEventId = event.id;
          doc.statusChangedAt = event.ts;
        }
        break;
      default:
        break;
    }
    return doc;
  },
};
