import type { BudgetScope, Interaction, KmEvent, ServerEvent, ToolsListed } from '../../events';
import { addSaturating, bounded, own, ownRecord, withoutIdLists, type Projection } from '../projection';
import { MAX_COST_USD, MAX_TOKENS } from '../../events';
import { derivedEventId } from '../../ids';

/**
 * The Cost Center read model: one fold, three kinds of document in the org's partition.
 * - bucket `hour|2026-11-25T13` and `day|2026-11-25`: spend and tokens in total and by project, user, server, tool
 *   and model. Queries over a range read day documents (one query per month), never raw events.
 * - context `context|<server>`: the latest tools/list of a server (the context tax every session pays).
 * - budget `budget|org`: the budget (latest budget.set wins) and the daily spend of the last BUDGET_DAYS days of
 *   the org and, under projects, of each project; the thresholds crossed follow from it (emits). Projects had
 *   documents of their own (`budget|project|<id>`) before: a batch wrote one per project it touched; those are
 *   still read (budgetDocs). Under users, each user's daily spend; under teams, each team's users (the newest
 *   team.set) and budget: a team's spend is its users' summed when read (budgetDocs), so a team is who is in it
 *   now, as on the cost routes, and the fold stays order-free (sums, and the newest event by id wins).
 *
 * Money is summed in integer nano-dollars: float sums depend on the order of addition, integer sums do not, and
 * the fold must give the same document whatever order the events arrive in.
 *
 * Replays are skipped by the projector (by log position), so the fold keeps no event ids.
 */
export const COST_MODEL = 'cost';
/** Beyond this many distinct keys in one bucket's dimension, new keys are summed under OTHER_KEY. */
export const MAX_KEYS_PER_DIMENSION = 500;
export const OTHER_KEY = '(other)';
/** Days of spend a budget document keeps: this month and the last, for the forecast's trailing window. */
export const BUDGET_DAYS = 62;
export const BUDGET_THRESHOLDS = [50, 80, 100] as const;
export const NANO = 1_000_000_000;

export const COST_DIMENSIONS = ['project', 'user', 'server', 'tool', 'model'] as const;
export type CostDimension = (typeof COST_DIMENSIONS)[number];

export interface CostCounters {
  costNanoUsd: number;
  tokensIn: number;
  tokensOut: number;
  interactions: number;
}

export interface CostBucketDoc {
  id: string;
  kind: 'bucket';
  orgId: string;
  granularity: 'hour' | 'day';
  /** '2026-11-25T13' or '2026-11-25'. */
  period: string;
  day: string;
  month: string;
  total: CostCounters;
  groups: Record<CostDimension, Record<string, CostCounters>>;
  /** 2: its tool keys are toolGroupKey's; absent on buckets written before, whose keys withToolKeys re-keys. */
  toolKeys?: 2;
}

export interface ContextDoc {
  id: string;
  kind: 'context';
  orgId: string;
  server: string;
  tools: number;
  definitionBytes: number;
  contextTokens: number | null;
  /** The tools_listed event these came from: the newest by id wins. */
  listedBy: string | null;
  /**
   * A model the server was used with on its latest day of use (the least name of that day's, so the fold is
   * order-free), to price the tax; null until one is seen. Following the newest interaction instead rewrote this
   * document for every batch of every server (issue 11); now it changes about once a day.
   */
  model: string | null;
  /** The UTC day of that use. (Documents written before kept `modelBy`, an event id: any day sorts after it.) */
  modelDay: string | null;
}

/** A budget of one scope and the spend it is judged on. */
export interface BudgetState {
  /** Null until a budget.set names this scope. */
  monthlyUsd: number | null;
  webhookUrl: string | null;
  setBy: string | null;
  /** When that budget.set was made: months before it never alert (a budget set today says nothing of last month). */
  setAt: string | null;
  /**
   * The scope's first budget.set (the least id, so order-free), once a second came: a budget that replaced another
   * during a month has crossings of its own (thresholdEvents). Absent: the budget is the scope's first.
   */
  firstSetBy?: string;
  /** Nano-dollars per UTC day, the last BUDGET_DAYS days that saw spend. */
  days: Record<string, number>;
  /** The newest event time folded: the time stamp of events this document implies. */
  lastTs: string | null;
}

/** What a budget.set says of a scope. */
type BudgetSetting = Pick<BudgetState, 'monthlyUsd' | 'webhookUrl' | 'setBy' | 'setAt' | 'firstSetBy'>;

/** A user's spend, from which their teams' is summed. */
export interface UserSpend {
  /** Nano-dollars per UTC day, the last BUDGET_DAYS days that saw spend. */
  days: Record<string, number>;
  lastTs: string | null;
}

/** A team in the org's budget document: its users as the newest team.set says, and its budget. */
export interface TeamBudgetState extends BudgetSetting {
  userIds: string[];
  /** The team.set these users came from: the newest by id wins. */
  membersBy: string | null;
}

export interface BudgetDoc extends BudgetState {
  id: string;
  kind: 'budget';
  orgId: string;
  scope: BudgetScope;
  projectId: string | null;
  /** The team of a team's budget (made by budgetDocs, never stored on its own). */
  teamId?: string | null;
  /** In the org's document: each project's budget and spend (a prototype-free record: names come from events). */
  projects?: Record<string, BudgetState>;
  /** In the org's document: each user's spend (prototype-free; beyond MAX_KEYS_PER_DIMENSION users, OTHER_KEY). */
  users?: Record<string, UserSpend>;
  /** In the org's document: each team's users and budget (prototype-free). */
  teams?: Record<string, TeamBudgetState>;
}

export type CostDoc = CostBucketDoc | ContextDoc | BudgetDoc;
type CostEvent = KmEvent | ServerEvent;

const emptyCounters = (): CostCounters => ({ costNanoUsd: 0, tokensIn: 0, tokensOut: 0, interactions: 0 });
export const toNanoUsd = (usd: number | null | undefined) => (usd && usd > 0 ? Math.round(bounded(usd, MAX_COST_USD) * NANO) : 0);
const wholeTokens = (tokens: number | null | undefined) => (tokens && tokens > 0 ? Math.round(bounded(tokens, MAX_TOKENS)) : 0);

export function addCounters(a: CostCounters, b: CostCounters): CostCounters {
  return {
    costNanoUsd: addSaturating(a.costNanoUsd, b.costNanoUsd),
    tokensIn: addSaturating(a.tokensIn, b.tokensIn),
    tokensOut: addSaturating(a.tokensOut, b.tokensOut),
    interactions: addSaturating(a.interactions, b.interactions),
  };
}

/** The id of a scope's budget: the project's or the team's id for those scopes. */
export const budgetDocId = (scope: BudgetScope, scopeId: string | null) => (scope === 'org' ? 'budget|org' : `budget|${scope}|${scopeId}`);

/**
 * A tool's key, `server/tool`, with '%' and '/' in the server's name escaped (%25, %2F), in cost and latency alike: server `a` with tool `b/c`
 * and server `a/b` with tool `c` shared the key `a/b/c`, and their calls and spend were summed as one. Names
 * without either (nearly all) keep the keys they always had; tool names are left as they are (the key ends with one).
 */
export const toolGroupKey = (server: string, tool: string) => `${server.replace(/%/g, '%25').replace(/\//g, '%2F')}/${tool}`;

/** The server and tool of a toolGroupKey; null for a key of no tool (OTHER_KEY). */
export function toolOfGroupKey(key: string): { server: string; tool: string } | null {
  const slash = key.indexOf('/');
  if (slash < 0) return null;
  return { server: key.slice(0, slash).replace(/%2F/gi, '/').replace(/%25/g, '%'), tool: key.slice(slash + 1) };
}

/**
 * A bucket with toolGroupKey's tool keys. One written before them keyed a tool `${server}/${tool}` as it came: a key
 * starting with one of its servers whose name holds '/' or '%' is that server's (the longest such name, where
 * several fit: those keys were ambiguous), re-keyed and summed in. The fold does it when it first rewrites an old
 * bucket, the readers for one not rewritten since, so old and new spend of such a server are found under one key.
 */
export function withToolKeys(bucket: CostBucketDoc): CostBucketDoc {
  if (bucket.toolKeys === 2) return bucket;
  const escaped = Object.keys(bucket.groups.server)
    .filter((server) => /[/%]/.test(server))
    .sort((a, b) => b.length - a.length);
  if (escaped.length === 0) return { ...bucket, toolKeys: 2 };
  const tools: Record<string, CostCounters> = Object.create(null);
  for (const [key, counters] of Object.entries(bucket.groups.tool)) {
    const server = escaped.find((name) => key.startsWith(`${name}/`));
    const rekeyed = server === undefined ? key : toolGroupKey(server, key.slice(server.length + 1));
    tools[rekeyed] = addCounters(own(tools, rekeyed) ?? emptyCounters(), counters);
  }
  return { ...bucket, groups: { ...bucket.groups, tool: tools }, toolKeys: 2 };
}

/** The key of an interaction in each dimension; tools are per server, other methods show as `(method)`. */
export function dimensionKeys(event: Interaction): Record<CostDimension, string> {
  const tool = event.method === 'tools/call' && event.target ? event.target : `(${event.method})`;
  return {
    project: event.projectId,
    user: event.userId,
    server: event.server.name,
    tool: toolGroupKey(event.server.name, tool),
    model: event.model ?? '(unknown)',
  };
}

function interactionCounters(event: Interaction): CostCounters {
  return { costNanoUsd: toNanoUsd(event.costUsd), tokensIn: wholeTokens(event.tokensIn), tokensOut: wholeTokens(event.tokensOut), interactions: 1 };
}

function emptyBucket(orgId: string, docId: string): CostBucketDoc {
  const [granularity, period] = docId.split('|') as ['hour' | 'day', string];
  return {
    id: docId,
    kind: 'bucket',
    orgId,
    granularity,
    period,
    day: period.slice(0, 10),
    month: period.slice(0, 7),
    total: emptyCounters(),
    groups: { project: {}, user: {}, server: {}, tool: {}, model: {} },
    toolKeys: 2,
  };
}

/**
 * Folds a batch of interactions into a bucket: the document is copied once (its group records, into prototype-free
 * records), then each interaction adds to it in place. A copy per interaction of records with hundreds of keys was
 * most of the projector's time (issue 11).
 */
function foldBucket(state: CostBucketDoc | null, events: readonly CostEvent[], docId: string): CostBucketDoc {
  const base = state ? withToolKeys(withoutIdLists(state)) : emptyBucket(events[0]!.orgId, docId);
  const groups = {} as CostBucketDoc['groups'];
  for (const dimension of COST_DIMENSIONS) groups[dimension] = ownRecord(base.groups[dimension]);
  const doc: CostBucketDoc = { ...base, groups };
  for (const event of events) {
    if (event.type !== 'mcp.interaction') continue;
    const add = interactionCounters(event);
    const keys = dimensionKeys(event);
    for (const dimension of COST_DIMENSIONS) {
      const current = groups[dimension];
      const key = own(current, keys[dimension]) || Object.keys(current).length < MAX_KEYS_PER_DIMENSION ? keys[dimension] : OTHER_KEY;
      current[key] = addCounters(own(current, key) ?? emptyCounters(), add);
    }
    doc.total = addCounters(doc.total, add);
  }
  return doc;
}

function emptyContext(orgId: string, server: string, docId: string): ContextDoc {
  return { id: docId, kind: 'context', orgId, server, tools: 0, definitionBytes: 0, contextTokens: null, listedBy: null, model: null, modelDay: null };
}

function foldContext(state: ContextDoc | null, event: ToolsListed | Interaction, docId: string): ContextDoc {
  const doc = state ?? emptyContext(event.orgId, event.server.name, docId);
  if (event.type === 'mcp.tools_listed') {
    // Newest listing by id wins: max is order-independent and idempotent without remembering ids.
    if (doc.listedBy !== null && doc.listedBy >= event.id) return doc;
    return { ...doc, tools: event.tools.length, definitionBytes: event.definitionBytes, contextTokens: event.contextTokens, listedBy: event.id };
  }
  const day = event.ts.slice(0, 10);
  const seen = doc.modelDay ?? null;
  if (!event.model || (seen !== null && (seen > day || (seen === day && doc.model !== null && doc.model <= event.model)))) return doc;
  const { modelBy: _modelBy, ...rest } = doc as ContextDoc & { modelBy?: unknown };
  return { ...rest, model: event.model, modelDay: day };
}

const emptyBudgetState = (): BudgetState => ({ monthlyUsd: null, webhookUrl: null, setBy: null, setAt: null, days: Object.create(null), lastTs: null });

function emptyBudget(orgId: string, docId: string): BudgetDoc {
  const project = docId.startsWith('budget|project|') ? docId.slice('budget|project|'.length) : null;
  return { id: docId, kind: 'budget', orgId, scope: project === null ? 'org' : 'project', projectId: project, ...emptyBudgetState() };
}

const copyBudgetState = (state: BudgetState): BudgetState => ({ ...state, days: ownRecord(state.days) });

/** Keeps the newest BUDGET_DAYS days by date (not by arrival), so the cut is the same in any order. */
function trimBudgetDays(days: Record<string, number>): void {
  const kept = Object.keys(days).sort();
  for (const old of kept.slice(0, Math.max(0, kept.length - BUDGET_DAYS))) delete days[old];
}

/** A budget.set into its scope's state (in place); false when a newer one is already there. */
function setBudget(state: BudgetSetting, event: Extract<ServerEvent, { type: 'budget.set' }>): boolean {
  const { setBy, firstSetBy } = state;
  if (setBy === null || setBy < event.id) Object.assign(state, { monthlyUsd: event.monthlyUsd, webhookUrl: event.webhookUrl, setBy: event.id, setAt: event.ts });
  const first = firstBudgetSet(state.setBy, [firstSetBy, setBy, event.id]);
  if (first !== undefined) state.firstSetBy = first;
  return state.setBy !== setBy || state.firstSetBy !== firstSetBy;
}

/**
 * A scope's first budget.set among these ids (the least, whatever order they came in), kept once it is not the one
 * in force (setBy): undefined while the budget in force is the scope's first.
 */
function firstBudgetSet(setBy: string | null, ids: ReadonlyArray<string | null | undefined>): string | undefined {
  const least = ids.filter((id): id is string => typeof id === 'string').sort()[0];
  return least !== undefined && least !== setBy ? least : undefined;
}

function addSpend(state: UserSpend, event: Interaction, day = event.ts.slice(0, 10)): void {
  state.days[day] = addSaturating(own(state.days, day) ?? 0, toNanoUsd(event.costUsd));
  if (state.lastTs === null || event.ts > state.lastTs) state.lastTs = event.ts;
}

/**
 * Folds a batch into a budget document: copied once, then changed in place. The org's document counts every
 * interaction for the org and for its project, and takes both scopes' budget.set events; an older project
 * document (never handed events now) folds as it did.
 */
function foldBudget(state: BudgetDoc | null, events: readonly CostEvent[], docId: string): BudgetDoc {
  const base = state ? withoutIdLists(state) : emptyBudget(events[0]!.orgId, docId);
  const doc: BudgetDoc = { ...base, ...copyBudgetState(base) };
  const isOrg = doc.scope === 'org';
  const projects = isOrg ? (doc.projects = ownRecord(base.projects ?? {})) : null;
  const users = isOrg ? (doc.users = ownRecord(base.users ?? {})) : null;
  const teams = isOrg ? (doc.teams = ownRecord(base.teams ?? {})) : null;
  const copied = new Set<string>();
  const project = (id: string) => {
    if (!copied.has(id)) {
      copied.add(id);
      const stored = own(projects!, id);
      projects![id] = stored ? copyBudgetState(stored) : emptyBudgetState();
    }
    return projects![id]!;
  };
  // Users who spent nothing in the window are forgotten first, so the MAX_KEYS_PER_DIMENSION users are the ones
  // spending now: before, the first 500 users the org ever had held every place, and a team of later users read $0.
  const userCutoff = users ? forgetIdleUsers(users, events) : '';
  const copiedUsers = new Set<string>();
  const user = (id: string) => {
    const key = own(users!, id) || Object.keys(users!).length < MAX_KEYS_PER_DIMENSION ? id : OTHER_KEY;
    if (!copiedUsers.has(key)) {
      copiedUsers.add(key);
      const stored = own(users!, key);
      users![key] = stored ? { days: ownRecord(stored.days), lastTs: stored.lastTs } : { days: Object.create(null), lastTs: null };
    }
    return users![key]!;
  };
  const copiedTeams = new Set<string>();
  const team = (id: string) => {
    if (!copiedTeams.has(id)) {
      copiedTeams.add(id);
      const stored = own(teams!, id);
      teams![id] = stored ? { ...stored } : { monthlyUsd: null, webhookUrl: null, setBy: null, setAt: null, userIds: [], membersBy: null };
    }
    return teams![id]!;
  };
  let changed = false;
  for (const event of events) {
    if (event.type === 'budget.set') {
      const target =
        projects && event.scope === 'project' && event.projectId !== null ? project(event.projectId) : teams && event.scope === 'team' && event.teamId !== undefined ? team(event.teamId) : doc;
      changed = setBudget(target, event) || changed;
    } else if (event.type === 'team.set') {
      if (!teams) continue;
      const target = team(event.teamId);
      if (target.membersBy !== null && target.membersBy >= event.id) continue;
      Object.assign(target, { userIds: [...event.userIds], membersBy: event.id });
      changed = true;
    } else if (event.type === 'mcp.interaction') {
      addSpend(doc, event);
      if (projects) addSpend(project(event.projectId), event);
      if (users && spendDay(event) >= userCutoff) addSpend(user(event.userId), event, spendDay(event));
      changed = true;
    }
  }
  if (state && !changed) return state;
  trimBudgetDays(doc.days);
  for (const id of copied) trimBudgetDays(projects![id]!.days);
  return doc;
}

/**
 * The day a user's call counts on (team budgets): its own, but never after the day the API took it (a machine whose
 * clock is a year ahead would move the users' window there, and every user out of it).
 */
function spendDay(event: Interaction): string {
  const day = event.ts.slice(0, 10);
  const received = (event as Interaction & { receivedAt?: string }).receivedAt?.slice(0, 10);
  return received !== undefined && received < day ? received : day;
}

/**
 * Drops from users (a copy this batch owns) the days before the BUDGET_DAYS calendar days up to the newest day a user
 * spent on (spendDay), stored or in this batch, and the users left without any; returns that window's first day, which
 * the batch's calls are counted from (so no user holds more than BUDGET_DAYS days). A function of the days seen, so
 * the same in any order.
 */
function forgetIdleUsers(users: Record<string, UserSpend>, events: readonly CostEvent[]): string {
  let newest = '';
  for (const spend of Object.values(users)) for (const day of Object.keys(spend.days)) if (day > newest) newest = day;
  for (const event of events) if (event.type === 'mcp.interaction' && spendDay(event) > newest) newest = spendDay(event);
  if (newest === '') return '';
  const cutoff = new Date(Date.parse(`${newest}T00:00:00.000Z`) - (BUDGET_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
  for (const [id, spend] of Object.entries(users)) {
    const days = Object.keys(spend.days);
    if (days.every((day) => day >= cutoff)) continue;
    const kept = days.filter((day) => day >= cutoff);
    if (kept.length === 0) {
      delete users[id];
      continue;
    }
    const trimmed: Record<string, number> = Object.create(null);
    for (const day of kept) trimmed[day] = spend.days[day]!;
    users[id] = { days: trimmed, lastTs: spend.lastTs };
  }
  return cutoff;
}

/** A team's budget as a document of its own: its spend is the sum of its users' (as the team stands now). */
function teamBudgetDoc(orgId: string, teamId: string, team: TeamBudgetState, users: Readonly<Record<string, UserSpend>>): BudgetDoc {
  const days: Record<string, number> = Object.create(null);
  let lastTs: string | null = null;
  for (const userId of new Set(team.userIds)) {
    const spend = own(users, userId);
    if (!spend) continue;
    for (const [day, nanos] of Object.entries(spend.days)) days[day] = addSaturating(own(days, day) ?? 0, nanos);
    if (spend.lastTs !== null && (lastTs === null || spend.lastTs > lastTs)) lastTs = spend.lastTs;
  }
  const { monthlyUsd, webhookUrl, setBy, setAt, firstSetBy } = team;
  return { id: budgetDocId('team', teamId), kind: 'budget', orgId, scope: 'team', projectId: null, teamId, monthlyUsd, webhookUrl, setBy, setAt, ...(firstSetBy !== undefined ? { firstSetBy } : {}), days, lastTs };
}

/** Two states of one budget scope (an older project document and its entry in the org's) as one. */
function mergeBudgetStates(a: BudgetState, b: BudgetState): BudgetState {
  const days = ownRecord(a.days);
  for (const [day, nanos] of Object.entries(b.days)) days[day] = addSaturating(own(days, day) ?? 0, nanos);
  trimBudgetDays(days);
  const setting = b.setBy !== null && (a.setBy === null || b.setBy > a.setBy) ? b : a;
  const lastTs = a.lastTs === null || (b.lastTs !== null && b.lastTs > a.lastTs) ? b.lastTs : a.lastTs;
  const first = firstBudgetSet(setting.setBy, [a.firstSetBy, a.setBy, b.firstSetBy, b.setBy]);
  return { monthlyUsd: setting.monthlyUsd, webhookUrl: setting.webhookUrl, setBy: setting.setBy, setAt: setting.setAt, ...(first !== undefined ? { firstSetBy: first } : {}), days, lastTs };
}

/**
 * The budgets of stored budget documents, one per scope: the org's document without its projects, and each
 * project's entry in it as a document of its own (its id that of the project documents before), merged with an
 * older project document of the same id if one is stored.
 */
export function budgetDocs(stored: readonly BudgetDoc[]): BudgetDoc[] {
  const byId = new Map<string, BudgetDoc>();
  const add = (doc: BudgetDoc) => {
    const seen = byId.get(doc.id);
    byId.set(doc.id, seen ? { ...seen, ...mergeBudgetStates(seen, doc) } : doc);
  };
  for (const doc of stored) {
    const { projects, users, teams, ...scope } = doc;
    add(scope);
    for (const [projectId, state] of Object.entries(projects ?? {})) {
      add({ id: budgetDocId('project', projectId), kind: 'budget', orgId: doc.orgId, scope: 'project', projectId, ...state });
    }
    // Only teams with a budget: a team.set alone makes no budget.
    for (const [teamId, team] of Object.entries(teams ?? {})) if (team.setBy !== null) add(teamBudgetDoc(doc.orgId, teamId, team, users ?? {}));
  }
  return [...byId.values()];
}

/** Spend of a budget document in one month, in USD. */
export function budgetSpentUsd(doc: BudgetDoc, period: string): number {
  let nanos = 0;
  for (const [day, value] of Object.entries(doc.days)) if (day.startsWith(period)) nanos += value;
  return nanos / NANO;
}

/** The thresholds (percent) a month's spend has reached under the budget as it now stands. */
export function crossedThresholds(doc: BudgetDoc, period: string): number[] {
  if (!doc.monthlyUsd || doc.monthlyUsd <= 0) return [];
  const spent = budgetSpentUsd(doc, period);
  return BUDGET_THRESHOLDS.filter((threshold) => spent * 100 >= threshold * doc.monthlyUsd! - 1e-9);
}

const isBucketId = (docId: string) => docId.startsWith('hour|') || docId.startsWith('day|');
const isBudgetId = (docId: string) => docId.startsWith('budget|');

export const costProjection: Projection<CostDoc, CostEvent> = {
  name: COST_MODEL,
  foldsServerEvents: true,
  docIds(event) {
    switch (event.type) {
      case 'mcp.interaction':
        return [
          `hour|${event.ts.slice(0, 13)}`,
          `day|${event.ts.slice(0, 10)}`,
          `context|${event.server.name}`,
          // the org's budget document counts the project's spend too
          budgetDocId('org', null),
        ];
      case 'mcp.tools_listed':
        return [`context|${event.server.name}`];
      case 'budget.set':
      case 'team.set':
        return [budgetDocId('org', null)];
      default:
        return [];
    }
  },
  evolve(state, event, docId) {
    if (isBucketId(docId)) {
      return event.type === 'mcp.interaction' ? foldBucket(state as CostBucketDoc | null, [event], docId) : (state as CostDoc);
    }
    if (docId.startsWith('context|')) {
      return event.type === 'mcp.interaction' || event.type === 'mcp.tools_listed'
        ? foldContext(state as ContextDoc | null, event, docId)
        : (state as CostDoc);
    }
    return event.type === 'mcp.interaction' || event.type === 'budget.set' || event.type === 'team.set' ? foldBudget(state as BudgetDoc | null, [event], docId) : (state as CostDoc);
  },
  evolveBatch(state, events, docId) {
    if (isBucketId(docId) && events.some((event) => event.type === 'mcp.interaction')) return foldBucket(state as CostBucketDoc | null, events, docId);
    if (isBudgetId(docId) && events.length > 0) return foldBudget(state as BudgetDoc | null, events, docId);
    return events.reduce<CostDoc | null>((doc, event) => costProjection.evolve(doc, event, docId), state) as CostDoc;
  },
  emits(doc) {
    return doc.kind === 'budget' ? budgetDocs([doc]).flatMap(thresholdEvents) : [];
  },
};

/** The threshold events a budget's spend implies, with ids derived from org, scope, period and threshold. */
function thresholdEvents(doc: BudgetDoc): ServerEvent[] {
  if (doc.monthlyUsd === null || doc.lastTs === null || doc.setAt === null) return [];
  const since = doc.setAt.slice(0, 7);
  const months = [...new Set(Object.keys(doc.days).map((day) => day.slice(0, 7)))].filter((month) => month >= since).sort();
  // A budget that replaced another during the month is a new one to cross: its crossings have ids of their own (by its
  // budget.set), where a new amount's crossing had the old one's id and was dropped as its duplicate. A scope's first
  // budget, or one set before the month, keeps the id it always had, so an upgrade sends none of those again.
  const replaced = doc.firstSetBy !== undefined && doc.firstSetBy !== doc.setBy;
  const budgetOf = (period: string) => (replaced && doc.setAt!.slice(0, 7) === period ? `|${doc.setBy}` : '');
  return months.flatMap((period) =>
    crossedThresholds(doc, period).map((threshold) => ({
      id: derivedEventId(Date.parse(`${period}-01T00:00:00.000Z`), `${doc.orgId}|${doc.id}|${period}|${threshold}${budgetOf(period)}`),
      v: 1 as const,
      type: 'budget.threshold_crossed' as const,
      ts: doc.lastTs!,
      orgId: doc.orgId,
      scope: doc.scope,
      projectId: doc.projectId,
      ...(doc.scope === 'team' && doc.teamId ? { teamId: doc.teamId } : {}),
      period,
      threshold,
      monthlyUsd: doc.monthlyUsd!,
      spentUsd: budgetSpentUsd(doc, period),
      webhookUrl: doc.webhookUrl,
    })),
  );
}
