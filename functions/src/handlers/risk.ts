import {
  FINDING_KINDS,
  FindingStatusSchema,
  SEVERITIES,
  STATUS_ONLY_WHERE,
  expandFindings,
  isStatusOnly,
  newEventId,
  riskFindingView,
  riskProjection,
  type FindingStatusChanged,
  type RiskFindingDoc,
  type RiskFindingView,
} from '@km/shared';
import type { Authenticator, EventLog, QueryOptions, ReadModelStore } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { limitParam, nameParam, nameParams, type ParamResult } from './query-params';

export interface RiskQueryDeps {
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
}

export interface RiskStatusDeps extends RiskQueryDeps {
  eventLog: EventLog;
  now: () => Date;
  newBatchId: () => string;
  onEventsAppended?: () => void;
}

/** How many finding documents a summary reads at most (newest first). */
const SUMMARY_SCAN_LIMIT = 10_000;

const oneOf = <T extends string>(value: string | null, allowed: readonly T[], what: string): ParamResult<T | undefined> => {
  if (value === null) return { value: undefined };
  return (allowed as readonly string[]).includes(value) ? { value: value as T } : { error: `${what} must be one of ${allowed.join(', ')}; got "${value}"` };
};

function timeParam(value: string | null, what: string): ParamResult<string | undefined> {
  if (value === null) return { value: undefined };
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) return { error: `${what} must be an ISO date or time such as 2026-05-01 or 2026-05-01T09:00:00Z; got "${value}"` };
  return { value: new Date(ms).toISOString() };
}

/** The project, user, server and tool filters every view sends: each one a finding's own field. */
const SCOPE_FILTERS = ['projectId', 'userId', 'server', 'tool'] as const;

interface FindingsQuery {
  store: QueryOptions;
  from?: string;
  to?: string;
}

function findingsQuery(query: URLSearchParams): ParamResult<FindingsQuery> {
  const where: Record<string, string | boolean> = { detected: true };
  const severity = oneOf(query.get('severity'), SEVERITIES, 'severity');
  if ('error' in severity) return severity;
  const status = oneOf(query.get('status'), FindingStatusSchema.options, 'status');
  if ('error' in status) return status;
  const kind = oneOf(query.get('kind'), FINDING_KINDS, 'kind');
  if ('error' in kind) return kind;
  const from = timeParam(query.get('from'), 'from');
  if ('error' in from) return from;
  const to = timeParam(query.get('to'), 'to');
  if ('error' in to) return to;
  if (from.value && to.value && from.value > to.value) return { error: `from (${from.value}) is after to (${to.value})` };
  const limit = limitParam(query, 200, 1000);
  if ('error' in limit) return limit;
  if (severity.value) where.severity = severity.value;
  if (status.value) where.status = status.value;
  if (kind.value) where.kind = kind.value;
  const scope = nameParams(query, SCOPE_FILTERS);
  if ('error' in scope) return scope;
  Object.assign(where, scope.value);
  // The store reads only the range (an index on detected and ts in SQLite), so the limit holds as asked.
  const between = from.value || to.value ? { between: { ...(from.value ? { from: from.value } : {}), ...(to.value ? { to: to.value } : {}) } } : {};
  return {
    value: {
      store: { where, orderBy: 'ts', direction: 'desc', limit: limit.value, ...between },
      ...(from.value ? { from: from.value } : {}),
      ...(to.value ? { to: to.value } : {}),
    },
  };
}

/**
 * Every anomaly finding, a tool's read out of its server's document: the store cannot filter those, so they are
 * read whole (one document per project and server, plus sessions' and users' findings) and filtered here.
 */
async function anomalyFindings(store: ReadModelStore, orgId: string): Promise<RiskFindingDoc[]> {
  const scan = (where: QueryOptions['where']) => store.query<RiskFindingDoc>(riskProjection.name, orgId, { where, orderBy: 'ts', direction: 'desc', limit: SUMMARY_SCAN_LIMIT });
  const [anomalies, statusOnly] = await Promise.all([scan({ kind: 'anomaly' }), scan(STATUS_ONLY_WHERE)]);
  return expandFindings([...anomalies, ...statusOnly.filter(isStatusOnly)]);
}

const matches = (doc: RiskFindingDoc, where: Record<string, string | number | boolean>) =>
  Object.entries(where).every(([field, value]) => (doc as unknown as Record<string, unknown>)[field] === value);

/** The findings the store filter selects: the store's for every kind but anomalies, expandFindings' for anomalies. */
async function findingsWhere(store: ReadModelStore, orgId: string, options: QueryOptions): Promise<RiskFindingDoc[]> {
  const where = options.where ?? {};
  const others = where.kind === 'anomaly' ? [] : (await store.query<RiskFindingDoc>(riskProjection.name, orgId, options)).filter((doc) => doc.kind !== 'anomaly');
  // The same filters and range as the store applied to the others, before the two are cut to the limit together.
  const { from, to } = options.between ?? {};
  const inRange = (doc: RiskFindingDoc) => (from === undefined || doc.ts >= String(from)) && (to === undefined || doc.ts <= String(to));
  const anomalies = where.kind === undefined || where.kind === 'anomaly' ? (await anomalyFindings(store, orgId)).filter((doc) => matches(doc, where) && inRange(doc)) : [];
  // Newest first; a stable sort keeps the store's order among findings of one time.
  return [...others, ...anomalies].sort((a, b) => (a.ts === b.ts ? 0 : a.ts < b.ts ? 1 : -1)).slice(0, options.limit);
}

/** GET /api/risk/findings?severity&from&to&status&kind&projectId&userId&server&tool&limit: the caller's findings, newest first. */
export function makeQueryRiskFindingsHandler(deps: RiskQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const parsed = findingsQuery(request.query);
    if ('error' in parsed) return errorResponse(400, parsed.error);
    const limit = limitParam(request.query, 200, 1000);
    const docs = await findingsWhere(deps.readModelStore, auth.caller.orgId, parsed.value.store);
    const { from, to } = parsed.value;
    const findings = docs
      .filter((doc) => (!from || doc.ts >= from) && (!to || doc.ts <= to))
      .slice(0, 'value' in limit ? limit.value : 200)
      .map(riskFindingView);
    return jsonResponse(200, { findings });
  });
}

export interface RiskSummary {
  open: number;
  bySeverity: Record<'low' | 'medium' | 'high' | 'critical', number>;
  byRule: Array<{ ruleId: string; count: number }>;
  byDay: Array<{ day: string; count: number }>;
  anomalies: RiskFindingView[];
}

/** Open findings counted by severity, rule and day; anomalies listed (open ones, newest first). */
export function summarize(docs: readonly RiskFindingDoc[]): RiskSummary {
  const open = docs.filter((doc) => doc.detected && doc.status === 'open');
  const bySeverity = { low: 0, medium: 0, high: 0, critical: 0 };
  const byRule = new Map<string, number>();
  const byDay = new Map<string, number>();
  for (const doc of open) {
    bySeverity[doc.severity]++;
    byRule.set(doc.ruleId, (byRule.get(doc.ruleId) ?? 0) + 1);
    byDay.set(doc.day, (byDay.get(doc.day) ?? 0) + 1);
  }
  return {
    open: open.length,
    bySeverity,
    byRule: [...byRule].map(([ruleId, count]) => ({ ruleId, count })).sort((a, b) => b.count - a.count || a.ruleId.localeCompare(b.ruleId)),
    byDay: [...byDay].map(([day, count]) => ({ day, count })).sort((a, b) => a.day.localeCompare(b.day)),
    anomalies: open.filter((doc) => doc.kind === 'anomaly').sort((a, b) => b.ts.localeCompare(a.ts)).slice(0, 100).map(riskFindingView),
  };
}

/** GET /api/risk/summary?from&to&projectId&userId&server&tool: counts over the caller's open findings. */
export function makeQueryRiskSummaryHandler(deps: RiskQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    // The summary is of open findings of every severity and kind: those filters belong to GET /api/risk/findings.
    const refused = ['severity', 'status', 'kind', 'limit'].filter((name) => request.query.has(name));
    if (refused.length > 0) return errorResponse(400, `${refused.join(' and ')} cannot be used here: the summary counts every open finding; filter the list with GET /api/risk/findings`);
    const parsed = findingsQuery(request.query);
    if ('error' in parsed) return errorResponse(400, parsed.error);
    const { from, to } = parsed.value;
    const docs = await findingsWhere(deps.readModelStore, auth.caller.orgId, {
      ...parsed.value.store,
      where: { ...parsed.value.store.where, status: 'open' },
      limit: SUMMARY_SCAN_LIMIT,
    });
    return jsonResponse(200, summarize(docs.filter((doc) => (!from || doc.ts >= from) && (!to || doc.ts <= to))));
  });
}

/** A finding by id: its own document, or (for a tool's anomaly) read out of its server's. */
async function findingById(store: ReadModelStore, orgId: string, findingId: string): Promise<RiskFindingDoc | null> {
  const found = await store.get<RiskFindingDoc>(riskProjection.name, orgId, findingId);
  if (found?.doc.detected && found.doc.kind !== 'anomaly') return found.doc;
  return (await anomalyFindings(store, orgId)).find((doc) => doc.id === findingId) ?? null;
}

/**
 * POST /api/risk/findings/{id}/ack and /resolve: appends a server-made risk.finding_status event (the read model
 * changes through the fold like any other change) and answers the finding as it will read once folded.
 */
export function makeRiskStatusHandler(status: 'acknowledged' | 'resolved') {
  return (deps: RiskStatusDeps): HttpHandler =>
    withUnexpectedErrorsAs500(async (request) => {
      const auth = await authenticateRequest(deps.authenticator, request);
      if ('response' in auth) return auth.response;
      const id = nameParam(request.params.id ?? '', 'the finding id');
      if ('error' in id) return errorResponse(400, id.error);
      const findingId = id.value ?? '';
      const doc = await findingById(deps.readModelStore, auth.caller.orgId, findingId);
      if (!doc) return errorResponse(404, `no finding "${findingId}" in your org: list findings with GET /api/risk/findings.`);
      const at = deps.now();
      const event: FindingStatusChanged = {
        id: newEventId(at.getTime()),
        v: 1,
        ts: at.toISOString(),
        type: 'risk.finding_status',
        orgId: auth.caller.orgId,
        findingId,
        status,
        // A tool's finding lives in its server's document: the event goes there.
        ...(doc.holderId ? { documentId: doc.holderId } : {}),
      };
      await deps.eventLog.append([{ ...event, receivedAt: event.ts, batchId: deps.newBatchId() }]);
      deps.onEventsAppended?.();
      return jsonResponse(200, riskFindingView({ ...doc, status }));
    });
}

export const makeAckRiskFindingHandler = makeRiskStatusHandler('acknowledged');
export const makeResolveRiskFindingHandler = makeRiskStatusHandler('resolved');
export type { RiskFindingView };
