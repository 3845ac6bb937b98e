import {
  ackFindingRoute,
  notFound,
  resolveFindingRoute,
  riskFindingsRoute,
  riskSummaryRoute,
  STATUS_ONLY_WHERE,
  UNUSUAL_HOURS_WHERE,
  expandFindings,
  FINDING_KINDS,
  isStatusOnly,
  newEventId,
  riskFindingView,
  riskProjection,
  sessionsProjection,
  type FindingKind,
  type FindingStatusChanged,
  type SessionFiles,
  type RiskFindingDoc,
  type RiskFindingView,
} from '@km/shared';
import type { Authenticator, EventLog, QueryOptions, ReadModelStore } from '../ports';
import { appendServerEvents } from './server-events';
import { teamUsers } from '../teams/team-directory';
import { inKeyScope, keyScopeName, routeHandler } from './route-handler';

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

/** How many findings a summary counts at most (newest first); past it the answer says it is not complete. */
export const SUMMARY_SCAN_LIMIT = 10_000;

interface FindingsQuery {
  store: QueryOptions;
  from?: string;
  to?: string;
}

/** The filters both findings routes take (the summary refuses severity, status, kind and limit). */
interface FindingFilters {
  from?: number | undefined;
  to?: number | undefined;
  projectId?: string | undefined;
  userId?: string | undefined;
  server?: string | undefined;
  tool?: string | undefined;
  severity?: string | undefined;
  status?: string | undefined;
  kind?: string | undefined;
  limit?: number | undefined;
}

/** The store query of the findings routes' parameters (the contract checked them): equality filters and the range. */
function findingsQuery(params: FindingFilters): FindingsQuery {
  const where: Record<string, string | boolean> = { detected: true };
  for (const field of ['severity', 'status', 'kind', 'projectId', 'userId', 'server', 'tool'] as const) {
    const value = params[field];
    if (value !== undefined) where[field] = value;
  }
  const from = params.from === undefined ? undefined : new Date(params.from).toISOString();
  const to = params.to === undefined ? undefined : new Date(params.to).toISOString();
  // The store reads only the range (an index on detected and ts in SQLite), so the limit holds as asked.
  const between = from || to ? { between: { ...(from ? { from } : {}), ...(to ? { to } : {}) } } : {};
  return {
    store: { where, orderBy: 'ts', direction: 'desc', ...(params.limit !== undefined ? { limit: params.limit } : {}), ...between },
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
  };
}

/**
 * Every anomaly finding, a tool's read out of its server's document and a user's unusual hours out of the org's
 * hour documents: the store cannot filter those, so they are read whole (one document per project and server, 24
 * hour documents, the sessions flagged with many files) and filtered here. Users' own hours documents from before the hour documents
 * are read by rule (kind says anomaly only once one was found) and added in.
 */
async function anomalyFindings(store: ReadModelStore, orgId: string): Promise<{ findings: RiskFindingDoc[]; cut: boolean }> {
  const scan = (where: QueryOptions['where']) => store.query<RiskFindingDoc>(riskProjection.name, orgId, { where, orderBy: 'ts', direction: 'desc', limit: SUMMARY_SCAN_LIMIT });
  // A session's files are counted in its session document: the flagged ones hold a many-files finding.
  const flagged = store.query<SessionFiles>(sessionsProjection.name, orgId, { where: { manyFiles: true }, orderBy: 'firstSeenAt', direction: 'desc', limit: SUMMARY_SCAN_LIMIT });
  // Every status of a derived finding, unlimited: all have ts '' (they hold only a status), so a limit kept an
  // arbitrary 10,000 and the findings of the others read open again. They are made by people acknowledging findings.
  const statuses = store.query<RiskFindingDoc>(riskProjection.name, orgId, { where: STATUS_ONLY_WHERE });
  const [anomalies, statusOnly, hours, sessions] = await Promise.all([scan({ kind: 'anomaly' }), statuses, scan(UNUSUAL_HOURS_WHERE), flagged]);
  // A scan that filled its limit may have left findings out: the summary then says it is not complete.
  const cut = [anomalies, hours, sessions].some((docs) => docs.length >= SUMMARY_SCAN_LIMIT);
  return { findings: expandFindings([...anomalies, ...statusOnly.filter(isStatusOnly), ...hours], sessions), cut };
}

const OTHER_KINDS = FINDING_KINDS.filter((kind) => kind !== 'anomaly');

const matches = (doc: RiskFindingDoc, where: Record<string, string | number | boolean>) =>
  Object.entries(where).every(([field, value]) => (doc as unknown as Record<string, unknown>)[field] === value);

/**
 * The findings the store filter selects: the store's for every kind but anomalies, expandFindings' for anomalies.
 * cut: the anomalies' scans filled their limit, so some may be missing.
 */
async function findingsWhere(store: ReadModelStore, orgId: string, options: QueryOptions): Promise<{ docs: RiskFindingDoc[]; cut: boolean }> {
  const where = options.where ?? {};
  // One query per other kind, not one for all: the anomaly documents would come too, to be parsed and dropped, as
  // anomalyFindings reads them again (each limit holds: the newest of the union are among each kind's newest).
  const kinds = where.kind === undefined ? OTHER_KINDS : where.kind === 'anomaly' ? [] : [where.kind as FindingKind];
  const others = (await Promise.all(kinds.map((kind) => store.query<RiskFindingDoc>(riskProjection.name, orgId, { ...options, where: { ...where, kind } })))).flat();
  // The same filters and range as the store applied to the others, before the two are cut to the limit together.
  const { from, to } = options.between ?? {};
  const inRange = (doc: RiskFindingDoc) => (from === undefined || doc.ts >= String(from)) && (to === undefined || doc.ts <= String(to));
  const derived = where.kind === undefined || where.kind === 'anomaly' ? await anomalyFindings(store, orgId) : { findings: [], cut: false };
  const anomalies = derived.findings.filter((doc) => matches(doc, where) && inRange(doc));
  // Newest first, ties by id as the store orders them (the kinds were read apart).
  const docs = [...others, ...anomalies].sort((a, b) => (a.ts !== b.ts ? (a.ts < b.ts ? 1 : -1) : a.id === b.id ? 0 : a.id < b.id ? 1 : -1)).slice(0, options.limit);
  return { docs, cut: derived.cut };
}

/** GET /api/risk/findings?severity&from&to&status&kind&projectId&userId&server&tool&limit: the caller's findings, newest first. */
export const makeQueryRiskFindingsHandler = routeHandler(riskFindingsRoute, async (caller, params, deps: RiskQueryDeps) => {
  const { store, from, to } = findingsQuery(params);
  // A team's findings are its users': read past the limit, keep theirs, then cut.
  const team = params.teamId === undefined ? null : await teamUsers(deps.readModelStore, caller.orgId, params.teamId);
  const { docs } = await findingsWhere(deps.readModelStore, caller.orgId, team ? { ...store, limit: SUMMARY_SCAN_LIMIT } : store);
  const findings = docs
    .filter((doc) => (!from || doc.ts >= from) && (!to || doc.ts <= to))
    .filter((doc) => team === null || (doc.userId !== undefined && doc.userId !== null && team.has(doc.userId)))
    .slice(0, params.limit)
    .map(riskFindingView);
  return { findings };
});

export interface RiskSummary {
  open: number;
  bySeverity: Record<'low' | 'medium' | 'high' | 'critical', number>;
  byRule: Array<{ ruleId: string; count: number }>;
  byDay: Array<{ day: string; count: number }>;
  anomalies: RiskFindingView[];
  complete: boolean;
}

/** Open findings counted by severity, rule and day; anomalies listed (open ones, newest first). */
export function summarize(docs: readonly RiskFindingDoc[], complete = true): RiskSummary {
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
    anomalies: open.filter((doc) => doc.kind === 'anomaly').sort((a, b) => (a.ts === b.ts ? 0 : a.ts < b.ts ? 1 : -1)).slice(0, 100).map(riskFindingView),
    complete,
  };
}

/** GET /api/risk/summary?from&to&projectId&userId&teamId&server&tool: counts over the caller's open findings (a team's: its users'). */
export const makeQueryRiskSummaryHandler = routeHandler(riskSummaryRoute, async (caller, params, deps: RiskQueryDeps) => {
  const { store, from, to } = findingsQuery(params);
  const team = params.teamId === undefined ? null : await teamUsers(deps.readModelStore, caller.orgId, params.teamId);
  // One past the limit: then it is known whether there were more than the summary counts.
  const { docs, cut } = await findingsWhere(deps.readModelStore, caller.orgId, { ...store, where: { ...store.where, status: 'open' }, limit: SUMMARY_SCAN_LIMIT + 1 });
  return summarize(
    docs
      .slice(0, SUMMARY_SCAN_LIMIT)
      .filter((doc) => (!from || doc.ts >= from) && (!to || doc.ts <= to))
      .filter((doc) => team === null || (doc.userId !== undefined && doc.userId !== null && team.has(doc.userId))),
    docs.length <= SUMMARY_SCAN_LIMIT && !cut,
  );
});

/** A finding by id: its own document, or (for a tool's anomaly) read out of its server's. */
async function findingById(store: ReadModelStore, orgId: string, findingId: string): Promise<RiskFindingDoc | null> {
  const found = await store.get<RiskFindingDoc>(riskProjection.name, orgId, findingId);
  if (found?.doc.detected && found.doc.kind !== 'anomaly') return found.doc;
  return (await anomalyFindings(store, orgId)).findings.find((doc) => doc.id === findingId) ?? null;
}

/**
 * POST /api/risk/findings/{id}/ack and /resolve: appends a server-made risk.finding_status event (the read model
 * changes through the fold like any other change) and answers the finding as it will read once folded.
 */
export function makeRiskStatusHandler(status: 'acknowledged' | 'resolved') {
  return routeHandler(status === 'acknowledged' ? ackFindingRoute : resolveFindingRoute, async (caller, { id: findingId }, deps: RiskStatusDeps, context) => {
    const doc = await findingById(deps.readModelStore, caller.orgId, findingId);
    if (!doc || !inKeyScope(caller, doc.projectId)) throw notFound(`no finding "${findingId}" in ${keyScopeName(caller)}: list findings with GET /api/risk/findings.`);
    const at = deps.now();
    const event: FindingStatusChanged = {
      id: newEventId(at.getTime()),
      v: 1,
      ts: at.toISOString(),
      type: 'risk.finding_status',
      orgId: caller.orgId,
      findingId,
      status,
      // A tool's finding lives in its server's document: the event goes there.
      ...(doc.holderId ? { documentId: doc.holderId } : {}),
      actor: caller.actor,
    };
    await appendServerEvents(deps, [{ ...event, receivedAt: event.ts, batchId: deps.newBatchId() }], context);
    return riskFindingView({ ...doc, status });
  });
}

export const makeAckRiskFindingHandler = makeRiskStatusHandler('acknowledged');
export const makeResolveRiskFindingHandler = makeRiskStatusHandler('resolved');
export type { RiskFindingView };
