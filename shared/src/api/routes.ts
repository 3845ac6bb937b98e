import { z } from 'zod';
import { BudgetSetSchema, FindingStatusSchema, GithubLoginSchema, IngestBatchSchema, TeamIdSchema, urlHasCredentials } from '../events';
import { SLOWEST_KEPT } from '../projections/latency';
import { FINDING_KINDS, SEVERITIES } from '../risk/catalog';
import * as answers from './answers';
import { RoleSchema, type Permission } from '../tenancy';
import { API_KEY_PREFIXES } from '../api-keys';
import { dayParam, enumParam, flagParam, instantParam, limitParam, nameParam, refusedParam } from './params';

/**
 * One HTTP route of the API, declared once: the functions' route table, the Azure registrations and the embedded
 * host are built from these, the dashboard's and the CLI's types are inferred from them, and the contract test
 * calls each one. `query` is strict: a parameter it does not declare is a 400 naming it, never ignored.
 */
export interface ApiRoute {
  /** The Function's name in Azure. */
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  /** Azure route template below `/api/`: `sessions/{id}/interactions`. */
  path: string;
  /** The `{name}` segments of path. */
  pathParams: z.ZodObject;
  query: z.ZodObject;
  /** A JSON body (a request with another Content-Type is a 415). */
  body?: z.ZodType;
  /** A body that works, for the 400 of one that does not and for the OpenAPI document. */
  bodyExample?: unknown;
  answer: z.ZodType;
  /** The status of a successful answer. */
  status: 200 | 202;
  doc: string;
  /**
   * The answer is a stream of lines, not one JSON document: ndjson (each line parsed by `answer`) or csv. The
   * format parameter says which.
   */
  streams?: true;
  /**
   * The handler applies a project key's scope itself (what it answers is about the credentials, or it checks the
   * project): the route is not refused to project keys for want of a projectId parameter.
   */
  scopesItself?: true;
  /**
   * With this query parameter the route reads one document by id and the handler checks a project key's scope on it
   * (inKeyScope); without it the route is scoped as any other (its projectId set to the key's).
   */
  scopesItselfWith?: string;
  /** What the caller's role must allow (shared/src/tenancy.ts); GET routes read, the others change, unless said. */
  permission?: Permission;
  /**
   * Answered without credentials (the landing page's beacon: a visitor has no key yet). The handler is given the
   * operator's org, never one the request names, and the route reads nothing.
   */
  anonymous?: true;
}

export const routePermission = (route: ApiRoute): Permission => route.permission ?? (route.method === 'GET' ? 'read' : 'change');

const declare = <const R extends ApiRoute>(route: R): R => route;
const noPathParams = z.strictObject({});
const noQuery = z.strictObject({});

type Issues = z.core.$RefinementCtx;
const refuse = (ctx: Issues, parameter: string, message: string) => ctx.addIssue({ code: 'custom', path: [parameter], message });

/** The dashboard's project, user, server and tool filters. */
const scopeFilters = () => ({ projectId: nameParam('projectId').optional(), userId: nameParam('userId').optional(), server: nameParam('server').optional(), tool: nameParam('tool').optional() });

/**
 * The cost dimension a filter narrows to: cost is kept per dimension, not per pair of them, so at most one is given
 * (a tool is kept per server, so server with tool is one filter, and tool alone is that tool on every server).
 */
export function costFilterDimension(filters: { projectId?: string | undefined; userId?: string | undefined; teamId?: string | undefined; server?: string | undefined; tool?: string | undefined }): 'project' | 'user' | 'server' | 'tool' | null {
  if (filters.projectId !== undefined) return 'project';
  // A team is its users: its spend is theirs.
  if (filters.userId !== undefined || filters.teamId !== undefined) return 'user';
  if (filters.tool !== undefined) return 'tool';
  return filters.server !== undefined ? 'server' : null;
}
function oneCostFilter(filters: { projectId?: string | undefined; userId?: string | undefined; teamId?: string | undefined; server?: string | undefined; tool?: string | undefined }, ctx: Issues) {
  const given = [filters.projectId, filters.userId, filters.teamId, filters.server ?? filters.tool].filter((value) => value !== undefined).length;
  if (given > 1) refuse(ctx, filters.projectId !== undefined ? 'projectId' : filters.userId !== undefined ? 'userId' : 'teamId', 'give one of projectId, userId, teamId or server (with or without tool): spend is kept per project, per user and per server or tool, not per pair of them');
}

/** A team's figures are its users': teamId goes with neither a project nor a user filter. */
const teamParam = () => ({ teamId: nameParam('teamId').optional() });
function teamAlone(filters: { projectId?: string | undefined; userId?: string | undefined; teamId?: string | undefined }, ctx: Issues) {
  if (filters.teamId !== undefined && (filters.projectId !== undefined || filters.userId !== undefined)) {
    refuse(ctx, 'teamId', 'give teamId without projectId or userId: a team is its users, across projects');
  }
}


const NO_MINUTES = 'bucket=minute is no longer available: latency is kept per hour and per day (issue 11); use bucket=hour';
const TIMESERIES_BUCKETS = ['hour', 'day'] as const;

const SUMMARY_REFUSES = 'the summary counts every open finding; filter the list with GET /api/risk/findings';
const riskQuery = () => ({ from: instantParam('from').optional(), to: instantParam('to').optional(), ...scopeFilters() });
function fromBeforeTo(range: { from?: number | undefined; to?: number | undefined }, ctx: Issues) {
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    refuse(ctx, 'from', `from (${new Date(range.from).toISOString()}) is after to (${new Date(range.to).toISOString()})`);
  }
}

export const ingestRoute = declare({
  name: 'ingest',
  method: 'POST',
  path: 'ingest',
  pathParams: noPathParams,
  query: noQuery,
  body: IngestBatchSchema,
  answer: answers.IngestAnswerSchema,
  status: 202,
  doc: 'Batches of events from km wrappers, up to 1000, optionally gzip; idempotent by event id.',
  permission: 'ingest',
});

export const sessionsRoute = declare({
  name: 'query-sessions',
  method: 'GET',
  path: 'sessions',
  pathParams: noPathParams,
  query: z.strictObject({ limit: limitParam(50, 500), projectId: nameParam('projectId').optional(), userId: nameParam('userId').optional(), ...teamParam() }).superRefine(teamAlone),
  answer: answers.SessionsAnswerSchema,
  status: 200,
  doc: "The caller's sessions, newest first; with teamId, its users'.",
});

const sessionPath = z.strictObject({ id: nameParam('the session id') });
export const sessionRoute = declare({
  name: 'query-session',
  method: 'GET',
  path: 'sessions/{id}',
  pathParams: sessionPath,
  query: noQuery,
  answer: answers.SessionAnswerSchema,
  status: 200,
  doc: "One of the caller's sessions; 404 outside the caller's org, and for a project key outside its project.",
  // A project key opens its own project's sessions: the handler compares the session's project with the key's.
  scopesItself: true,
});

export const sessionInteractionsRoute = declare({
  name: 'query-session-interactions',
  method: 'GET',
  path: 'sessions/{id}/interactions',
  pathParams: sessionPath,
  query: z.strictObject({ limit: limitParam(1000, 5000) }),
  answer: answers.SessionInteractionsAnswerSchema,
  status: 200,
  doc: "A session's interactions in the order they started; 404 outside the caller's org, and for a project key outside its project.",
  // As query-session: the handler keeps a project key to its project's sessions.
  scopesItself: true,
});

export const costRoute = declare({
  name: 'query-cost',
  method: 'GET',
  path: 'cost',
  pathParams: noPathParams,
  query: z
    .strictObject({
      from: dayParam('from').optional(),
      to: dayParam('to').optional(),
      groupBy: enumParam('groupBy', ['project', 'user', 'server', 'tool', 'model', 'day']).default('day'),
      ...scopeFilters(),
      ...teamParam(),
    })
    .superRefine((query, ctx) => {
      oneCostFilter(query, ctx);
      const dimension = costFilterDimension(query);
      if (dimension && query.groupBy !== 'day' && query.groupBy !== dimension) {
        // A team's filter is its users': said as the team, which is what the caller gave.
        const filter = query.teamId !== undefined ? 'team (its users)' : dimension;
        refuse(ctx, 'groupBy', `with a ${filter} filter, group by day or ${dimension}: spend is not kept per ${dimension} and ${query.groupBy} together`);
      }
    }),
  answer: answers.CostReportSchema,
  status: 200,
  doc: 'Spend and tokens over UTC days (this month to today by default, at most 366), grouped; one filter at a time.',
});

export const costSummaryRoute = declare({
  name: 'query-cost-summary',
  method: 'GET',
  path: 'cost/summary',
  pathParams: noPathParams,
  query: z
    .strictObject({
      from: refusedParam('from', 'the summary covers today, yesterday, this month and the last 30 days; use GET /api/cost for a range'),
      to: refusedParam('to', 'the summary covers today, yesterday, this month and the last 30 days; use GET /api/cost for a range'),
      ...scopeFilters(),
      ...teamParam(),
    })
    .superRefine(oneCostFilter),
  answer: answers.CostSummarySchema,
  status: 200,
  doc: 'Today, yesterday, month to date, the month-end forecast and the last 30 days; the same one filter as /api/cost.',
});

const CONTEXT_TAX_REFUSES = "a server's tool definitions are kept as last listed, per server only";
export const contextTaxRoute = declare({
  name: 'query-cost-context-tax',
  method: 'GET',
  path: 'cost/context-tax',
  pathParams: noPathParams,
  query: z.strictObject({
    server: nameParam('server').optional(),
    from: refusedParam('from', CONTEXT_TAX_REFUSES),
    to: refusedParam('to', CONTEXT_TAX_REFUSES),
    projectId: refusedParam('projectId', CONTEXT_TAX_REFUSES),
    userId: refusedParam('userId', CONTEXT_TAX_REFUSES),
    teamId: refusedParam('teamId', CONTEXT_TAX_REFUSES),
    tool: refusedParam('tool', CONTEXT_TAX_REFUSES),
  }),
  answer: answers.ContextTaxSchema,
  status: 200,
  doc: "What each server's tool definitions cost every session that lists them.",
});

const BUDGETS_REFUSE = 'budgets are set per org, per project and per team';
export const budgetsRoute = declare({
  name: 'query-budgets',
  method: 'GET',
  path: 'budgets',
  pathParams: noPathParams,
  query: z
    .strictObject({
      projectId: nameParam('projectId').optional(),
      ...teamParam(),
      userId: refusedParam('userId', BUDGETS_REFUSE),
      server: refusedParam('server', BUDGETS_REFUSE),
      tool: refusedParam('tool', BUDGETS_REFUSE),
    })
    .superRefine((query, ctx) => {
      if (query.projectId !== undefined && query.teamId !== undefined) refuse(ctx, 'teamId', 'give projectId or teamId, not both: a budget is the org\'s, a project\'s or a team\'s');
    }),
  answer: answers.BudgetsAnswerSchema,
  status: 200,
  doc: "The org's budgets with this month's spend, forecast and thresholds crossed; with projectId or teamId, the org's and that project's or team's (a team the org does not have is a 404).",
});

export const BudgetBodySchema = z.strictObject({
  // More than 0: no spend crosses a share of $0 (a stored budget.set of 0, from before, still folds).
  monthlyUsd: z.number().positive('a budget is more than 0 USD a month (0 would never alert)').finite().max(1e9),
  // A user and password in the URL: fetch refuses such a URL, and it would put a secret where paths are kept out.
  webhookUrl: BudgetSetSchema.shape.webhookUrl.refine((url) => url === null || !urlHasCredentials(url), 'a webhook URL cannot carry a user or password (user:password@): put the secret in its path, as Slack and Teams do').optional(),
});
export const setOrgBudgetRoute = declare({
  name: 'set-budget-org',
  method: 'PUT',
  path: 'budgets/org',
  pathParams: noPathParams,
  query: noQuery,
  body: BudgetBodySchema,
  bodyExample: { monthlyUsd: 50, webhookUrl: 'https://hooks.slack.com/services/...' },
  answer: answers.BudgetSetAnswerSchema,
  status: 202,
  doc: "Sets the org's monthly budget (a server-made budget.set event).",
});
export const setProjectBudgetRoute = declare({
  name: 'set-budget-project',
  method: 'PUT',
  path: 'budgets/project/{projectId}',
  pathParams: z.strictObject({ projectId: nameParam('the project id') }),
  query: noQuery,
  body: BudgetBodySchema,
  bodyExample: { monthlyUsd: 50, webhookUrl: 'https://hooks.slack.com/services/...' },
  answer: answers.BudgetSetAnswerSchema,
  status: 202,
  doc: "Sets a project's monthly budget (a server-made budget.set event).",
});
export const setTeamBudgetRoute = declare({
  name: 'set-budget-team',
  method: 'PUT',
  path: 'budgets/team/{teamId}',
  pathParams: z.strictObject({ teamId: TeamIdSchema }),
  query: noQuery,
  body: BudgetBodySchema,
  bodyExample: { monthlyUsd: 50, webhookUrl: 'https://hooks.slack.com/services/...' },
  answer: answers.BudgetSetAnswerSchema,
  status: 202,
  doc: "Sets a team's monthly budget, judged on its users' spend (a server-made budget.set event); a team the org does not have is a 404.",
});

const latencyWindow = () => ({ from: instantParam('from').optional(), to: instantParam('to').optional(), ...scopeFilters() });
export const latencyRoute = declare({
  name: 'query-latency',
  method: 'GET',
  path: 'latency',
  pathParams: noPathParams,
  query: z
    .strictObject({ groupBy: enumParam('groupBy', ['server', 'tool', 'method']).default('server'), ...latencyWindow(), ...teamParam() })
    .superRefine((query, ctx) => {
      teamAlone(query, ctx);
      if (query.groupBy === 'method') {
        const why = 'methods are kept per org, project or user, not per server; use groupBy=server or groupBy=tool';
        if (query.server !== undefined) refuse(ctx, 'server', `server cannot be used here: ${why}`);
        if (query.tool !== undefined) refuse(ctx, 'tool', `tool cannot be used here: ${why}`);
      }
      if (query.groupBy === 'server' && query.tool !== undefined) refuse(ctx, 'tool', 'tool cannot be used here: a tool filter needs groupBy=tool');
    }),
  answer: answers.LatencyReportSchema,
  status: 200,
  doc: 'Latency, errors and bytes per server, tool or method over the range widened to whole UTC hours (at most 92 days).',
});

export const latencyTimeseriesRoute = declare({
  name: 'query-latency-timeseries',
  method: 'GET',
  path: 'latency/timeseries',
  pathParams: noPathParams,
  query: z
    .strictObject({
      bucket: z
        .string()
        .refine((raw) => raw !== 'minute', NO_MINUTES)
        .pipe(enumParam('bucket', TIMESERIES_BUCKETS))
        .meta({ type: 'string', enum: [...TIMESERIES_BUCKETS] })
        .default('hour'),
      ...latencyWindow(),
      ...teamParam(),
    })
    .superRefine((query, ctx) => {
      teamAlone(query, ctx);
    }),
  answer: answers.TimeseriesAnswerSchema,
  status: 200,
  doc: 'One point per hour or day bucket, empty ones included, at most 1500 points.',
});

const SLOWEST_REFUSES = 'the slowest calls are kept per org, project or user (a team: its users); see /api/latency?groupBy=tool for per-tool percentiles';
export const latencySlowestRoute = declare({
  name: 'query-latency-slowest',
  method: 'GET',
  path: 'latency/slowest',
  pathParams: noPathParams,
  query: z
    .strictObject({
      limit: limitParam(20, SLOWEST_KEPT),
      from: instantParam('from').optional(),
      to: instantParam('to').optional(),
      projectId: nameParam('projectId').optional(),
      userId: nameParam('userId').optional(),
      ...teamParam(),
      server: refusedParam('server', SLOWEST_REFUSES),
      tool: refusedParam('tool', SLOWEST_REFUSES),
    })
    .superRefine((query, ctx) => {
      teamAlone(query, ctx);
    }),
  answer: answers.SlowestAnswerSchema,
  status: 200,
  doc: 'The slowest answered interactions of the range widened to whole UTC hours, slowest first (limit 1-20).',
});

export const latencyBottlenecksRoute = declare({
  name: 'query-latency-bottlenecks',
  method: 'GET',
  path: 'latency/bottlenecks',
  pathParams: noPathParams,
  query: z
    .strictObject({ ...latencyWindow(), ...teamParam(), sessionId: nameParam('sessionId').optional() })
    .superRefine((query, ctx) => {
      if (query.sessionId !== undefined) {
        for (const name of ['from', 'to', 'projectId', 'userId', 'teamId'] as const) {
          if (query[name] !== undefined) refuse(ctx, name, `${name} cannot be used here: a sessionId names the whole session`);
        }
      }
      teamAlone(query, ctx);
    }),
  answer: answers.BottlenecksAnswerSchema,
  status: 200,
  scopesItselfWith: 'sessionId',
  doc: "Each server and tool's share of the waiting time, largest first; with sessionId, the whole session.",
});

export const recentInteractionsRoute = declare({
  name: 'query-recent-interactions',
  method: 'GET',
  path: 'interactions/recent',
  pathParams: noPathParams,
  query: z.strictObject({
    /** Opaque: the cursor of a previous answer. */
    after: z.string().max(2000).describe('the cursor of a previous answer').optional(),
    limit: limitParam(100, 500),
    projectId: nameParam('projectId').optional(),
    userId: nameParam('userId').optional(),
  }),
  answer: answers.RecentInteractionsAnswerSchema,
  status: 200,
  doc: 'Interactions in the order the API received them, oldest first; pass the answer’s cursor back as after.',
});

export const riskFindingsRoute = declare({
  name: 'query-risk-findings',
  method: 'GET',
  path: 'risk/findings',
  pathParams: noPathParams,
  query: z
    .strictObject({
      severity: enumParam('severity', SEVERITIES).optional(),
      status: enumParam('status', FindingStatusSchema.options).optional(),
      kind: enumParam('kind', FINDING_KINDS).optional(),
      limit: limitParam(200, 1000),
      ...riskQuery(),
      ...teamParam(),
    })
    .superRefine((query, ctx) => {
      fromBeforeTo(query, ctx);
      teamAlone(query, ctx);
    }),
  answer: answers.RiskFindingsAnswerSchema,
  status: 200,
  doc: "The caller's findings, newest first.",
});

export const riskSummaryRoute = declare({
  name: 'query-risk-summary',
  method: 'GET',
  path: 'risk/summary',
  pathParams: noPathParams,
  query: z
    .strictObject({
      ...riskQuery(),
      ...teamParam(),
      severity: refusedParam('severity', SUMMARY_REFUSES),
      status: refusedParam('status', SUMMARY_REFUSES),
      kind: refusedParam('kind', SUMMARY_REFUSES),
      limit: refusedParam('limit', SUMMARY_REFUSES),
    })
    .superRefine((query, ctx) => {
      fromBeforeTo(query, ctx);
      teamAlone(query, ctx);
    }),
  answer: answers.RiskSummarySchema,
  status: 200,
  doc: 'Open findings counted by severity, rule and day, and the open anomalies.',
});

const findingPath = z.strictObject({ id: nameParam('the finding id') });
export const ackFindingRoute = declare({
  name: 'risk-finding-ack',
  method: 'POST',
  path: 'risk/findings/{id}/ack',
  pathParams: findingPath,
  query: noQuery,
  answer: answers.RiskFindingSchema,
  status: 200,
  doc: 'Acknowledges a finding (a server-made risk.finding_status event); 404 outside the caller’s org, and for a project key outside its project.',
  // A project key changes its own project's findings: the handler compares the finding's project with the key's.
  scopesItself: true,
});
export const resolveFindingRoute = declare({
  name: 'risk-finding-resolve',
  method: 'POST',
  path: 'risk/findings/{id}/resolve',
  pathParams: findingPath,
  query: noQuery,
  answer: answers.RiskFindingSchema,
  status: 200,
  doc: 'Resolves a finding (a server-made risk.finding_status event); 404 outside the caller’s org, and for a project key outside its project.',
  // A project key changes its own project's findings: the handler compares the finding's project with the key's.
  scopesItself: true,
});

export const openApiRoute = declare({
  name: 'openapi',
  method: 'GET',
  path: 'openapi.json',
  pathParams: noPathParams,
  query: noQuery,
  answer: z.looseObject({ openapi: z.literal('3.1.0'), paths: z.record(z.string(), z.unknown()) }),
  status: 200,
  doc: 'This API as an OpenAPI 3.1 document, generated from its declaration (shared/src/api); the same key as every route.',
  scopesItself: true,
});

// Teams and compliance (#14): who the credentials are, and the org's API keys.
export const whoamiRoute = declare({
  name: 'whoami',
  method: 'GET',
  path: 'whoami',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.WhoamiAnswerSchema,
  status: 200,
  doc: "The org, role and project scope of the credentials sent: what `km login` checks before it saves a key.",
  scopesItself: true,
});

export const CreateKeyBodySchema = z.strictObject({
  role: RoleSchema.default('member'),
  /** A project key ships and reads that project only. */
  projectId: z.string().min(1).max(200).refine((id) => id.trim() !== '', 'a project id cannot be blank').nullable().default(null),
  label: z.string().min(1).max(200).refine((label) => label.trim() !== '', 'a label cannot be blank').nullable().default(null),
  prefix: z.enum(API_KEY_PREFIXES).default('km_live_'),
});

export const keysRoute = declare({
  name: 'keys',
  method: 'GET',
  path: 'keys',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.KeysAnswerSchema,
  status: 200,
  doc: "The org's API keys, revoked ones too: ids, prefixes, roles and scopes, never the keys (owners and admins; a member signed in with GitHub: the keys they made).",
  permission: 'keys',
  scopesItself: true,
});

export const createKeyRoute = declare({
  name: 'createKey',
  method: 'POST',
  path: 'keys',
  pathParams: noPathParams,
  query: noQuery,
  body: CreateKeyBodySchema,
  bodyExample: { role: 'member', projectId: 'web', label: 'ci' },
  answer: answers.CreatedKeyAnswerSchema,
  status: 200,
  doc: "A new API key of the caller's org, shown once in this answer and stored only as its hash (owners and admins; only an owner makes owners; a member signed in with GitHub makes their own, of role member or viewer, not with an API key).",
  permission: 'keys',
  scopesItself: true,
});

export const revokeKeyRoute = declare({
  name: 'revokeKey',
  method: 'POST',
  path: 'keys/{keyId}/revoke',
  pathParams: z.strictObject({ keyId: z.string().min(1).max(200) }),
  query: noQuery,
  answer: answers.ApiKeySchema,
  status: 200,
  doc: 'Revokes a key of the org by its id or prefix: every request with it is a 401 from then on (owners and admins; a member signed in with GitHub: the keys they made).',
  permission: 'keys',
  scopesItself: true,
});

export const InviteBodySchema = z.strictObject({
  login: GithubLoginSchema,
  role: RoleSchema.default('member'),
});

export const membersRoute = declare({
  name: 'members',
  method: 'GET',
  path: 'members',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.MembersAnswerSchema,
  status: 200,
  doc: "The org's members and open invitations (GitHub logins and roles).",
});

export const inviteMemberRoute = declare({
  name: 'inviteMember',
  method: 'POST',
  path: 'members',
  pathParams: noPathParams,
  query: z.strictObject({ revokeKeys: flagParam('revokeKeys') }),
  body: InviteBodySchema,
  bodyExample: { login: 'octocat', role: 'member' },
  answer: answers.InvitedMemberSchema,
  status: 200,
  doc: "Invites a GitHub login to the org with a role: their first sign-in makes them a member (owners and admins; only an owner makes owners). Naming a member with a lower role than theirs changes it (only an owner changes an owner's, never the last owner's); the keys they made with a role above the new one keep working and are listed in keysAbove, or revoked with revokeKeys=true (listed in keysRevoked).",
  permission: 'manage',
});

export const removeMemberRoute = declare({
  name: 'removeMember',
  method: 'POST',
  path: 'members/{login}/remove',
  pathParams: z.strictObject({ login: GithubLoginSchema }),
  query: z.strictObject({ revokeKeys: flagParam('revokeKeys') }),
  answer: answers.RemovedMemberAnswerSchema,
  status: 200,
  doc: "Removes a member or invitation of the org (a member.removed event): their sign-in stops working at once and they leave the teams that name their login (owners and admins; only an owner removes an owner, and never the org's last owner: a 409). keysMade lists the keys they made that still work: a removal leaves those (they may serve CI), unless revokeKeys=true revokes them with it (listed in keysRevoked; an owner key only by an owner, and never the org's last owner).",
  permission: 'manage',
});

export const TeamBodySchema = z.strictObject({
  name: z.string().min(1).max(200),
  userIds: z.array(z.string().min(1).max(200)).max(1000),
});

export const teamsRoute = declare({
  name: 'teams',
  method: 'GET',
  path: 'teams',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.TeamsAnswerSchema,
  status: 200,
  doc: "The org's teams: each a name and the users it groups (as events name users). Routes with teamId show a team's figures.",
});

export const setTeamRoute = declare({
  name: 'setTeam',
  method: 'PUT',
  path: 'teams/{teamId}',
  pathParams: z.strictObject({ teamId: TeamIdSchema }),
  query: noQuery,
  body: TeamBodySchema,
  bodyExample: { name: 'Platform', userIds: ['ann@example.com', 'bob@example.com'] },
  answer: answers.TeamSchema,
  status: 200,
  doc: 'Makes or replaces a team of the org (owners and admins).',
  permission: 'manage',
});

export const RetentionBodySchema = z.strictObject({
  rawEventDays: z.number().int().min(1).max(36500).nullable(),
  previewDays: z.number().int().min(1).max(36500).nullable(),
});

export const retentionRoute = declare({
  name: 'retention',
  method: 'GET',
  path: 'retention',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.RetentionAnswerSchema,
  status: 200,
  doc: "How long the org's raw events and previews are kept, and what the last sweep removed.",
});

export const setRetentionRoute = declare({
  name: 'setRetention',
  method: 'PUT',
  path: 'retention',
  pathParams: noPathParams,
  query: noQuery,
  body: RetentionBodySchema,
  bodyExample: { rawEventDays: 90, previewDays: 30 },
  answer: answers.RetentionAnswerSchema,
  status: 200,
  doc: 'Sets how many days raw events and previews are kept (null: for ever); the next sweep removes what is older, aggregates stay (owners and admins).',
  permission: 'manage',
});

export const auditRoute = declare({
  name: 'audit',
  method: 'GET',
  path: 'audit',
  pathParams: noPathParams,
  query: z
    .strictObject({ from: instantParam('from').optional(), to: instantParam('to').optional(), format: enumParam('format', ['ndjson', 'csv'] as const).optional() })
    .superRefine(fromBeforeTo),
  answer: answers.AuditLineSchema,
  status: 200,
  streams: true,
  doc: "Every event of the org in log order, as a hash chain (each record carries the hash of the one before) ending in a head signed with the server's audit key; from/to (when the server accepted them) choose the records shown, the chain is always the org's whole. In Azure the events are read from the audit archive, which its trigger fills a few seconds behind ingest. ndjson (default) or csv. Owners and admins only: key.created records carry the key's hash, which the chain covers.",
  permission: 'audit',
});

export const auditKeyRoute = declare({
  name: 'audit-key',
  method: 'GET',
  path: 'audit/key',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.AuditKeyAnswerSchema,
  status: 200,
  doc: "The public key this server signs audit heads with (the same for every org it serves), and its fingerprint: a head signed by any other key is not this server's, whatever key the file carries.",
  scopesItself: true,
});

// The guided first run and the funnel (issue 15).
export const firstRunRoute = declare({
  name: 'query-first-run',
  method: 'GET',
  path: 'first-run',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.FirstRunAnswerSchema,
  status: 200,
  doc: "The org's first event, first interaction and first tool call as the server received them (null until there is one): what the first-run page waits for.",
});

export const funnelRoute = declare({
  name: 'query-funnel',
  method: 'GET',
  path: 'funnel',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.FunnelAnswerSchema,
  status: 200,
  doc: "The org's funnel: landing views (in the operator's org), sign-ins, keys made, events, and the time between the first of each (owners and admins).",
  permission: 'manage',
});

export const landingViewRoute = declare({
  name: 'funnel-landing-view',
  method: 'POST',
  path: 'funnel/landing-view',
  pathParams: noPathParams,
  query: noQuery,
  answer: answers.LandingViewAnswerSchema,
  status: 202,
  doc: "The landing page's beacon (navigator.sendBeacon, same origin, no body, no cookie): one landing view, recorded in the operator's org; recorded false where the server names no operator org.",
  anonymous: true,
  scopesItself: true,
  permission: 'read',
});

/** Every route of the API, in the order the README lists them. */
export const apiRoutes = [
  ingestRoute,
  sessionsRoute,
  sessionRoute,
  sessionInteractionsRoute,
  costRoute,
  costSummaryRoute,
  contextTaxRoute,
  budgetsRoute,
  setOrgBudgetRoute,
  setProjectBudgetRoute,
  setTeamBudgetRoute,
  latencyRoute,
  latencyTimeseriesRoute,
  latencySlowestRoute,
  latencyBottlenecksRoute,
  recentInteractionsRoute,
  riskFindingsRoute,
  riskSummaryRoute,
  ackFindingRoute,
  resolveFindingRoute,
  whoamiRoute,
  keysRoute,
  createKeyRoute,
  revokeKeyRoute,
  membersRoute,
  inviteMemberRoute,
  removeMemberRoute,
  teamsRoute,
  setTeamRoute,
  retentionRoute,
  setRetentionRoute,
  auditRoute,
  auditKeyRoute,
  firstRunRoute,
  funnelRoute,
  landingViewRoute,
  openApiRoute,
] as const;

export type ApiRouteName = (typeof apiRoutes)[number]['name'];
/** The parameters a route's handler gets: its path and query parameters, parsed. */
export type RouteParams<R extends ApiRoute> = z.output<R['pathParams']> & z.output<R['query']>;
export type RouteAnswer<R extends ApiRoute> = z.output<R['answer']>;
/** A route's JSON body, parsed; undefined for a route without one. */
export type RouteBody<R extends ApiRoute> = R extends { body: z.ZodType } ? z.output<R['body']> : undefined;

/** Any route the contract declares, with its literal name, method and path. */
export type DeclaredRoute = (typeof apiRoutes)[number];
/** The declared route at a method and path: what a client derives its parameters and answer from. */
export type RouteAt<M extends ApiRoute['method'], P extends string> = Extract<DeclaredRoute, { method: M; path: P }>;
/** The paths of the declared GET routes. */
export type GetRoutePath = Extract<DeclaredRoute, { method: 'GET' }>['path'];
/**
 * What a client may send: the path parameters, and the query parameters the route honours by name (a refused one,
 * which parses to undefined, is left out, so a client cannot send a filter the route would refuse).
 */
export type RouteRequest<R extends ApiRoute> = { [K in keyof R['pathParams']['shape']]: string } & {
  [K in keyof R['query']['shape'] as [z.output<R['query']['shape'][K]>] extends [undefined] ? never : K]?: string | number | null | undefined;
};
