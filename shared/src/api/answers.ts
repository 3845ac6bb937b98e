import { z } from 'zod';
import { FindingStatusSchema, ImplementationSchema, InteractionSchema } from '../events';
import { FINDING_KINDS, SEVERITIES } from '../risk/catalog';
import { RoleSchema } from '../tenancy';

/*
 * What each route answers. Loose objects (z.object): a client reads these off the wire and must tolerate a field
 * added later; the contract test parses every answer with them. The dashboard's types are z.infer of these.
 */

const SeveritySchema = z.enum(SEVERITIES as readonly ['low', 'medium', 'high', 'critical']);

export const SessionAnswerSchema = z.object({
  id: z.string(),
  orgId: z.string(),
  projectId: z.string(),
  userId: z.string(),
  machineId: z.string(),
  server: z.object({ name: z.string(), command: z.string() }),
  startedAt: z.string().nullable(),
  /** How km reached the server (session.started): a child's stdio, or HTTP (km --url, km proxy); null until that event arrives. */
  transport: z.enum(['stdio', 'http']).nullable(),
  firstSeenAt: z.string(),
  lastActivityAt: z.string(),
  endedAt: z.string().nullable(),
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  durationMs: z.number().nullable(),
  protocolVersion: z.string().nullable(),
  client: z.object(ImplementationSchema.shape).nullable(),
  serverInfo: z.object(ImplementationSchema.shape).nullable(),
  interactionCount: z.number(),
  errorCount: z.number(),
  toolCallCount: z.number(),
  notificationCount: z.number(),
  violationCount: z.number(),
  /** Events the wrapper could not record (spool full, an observation that failed), from session.ended. */
  droppedObservations: z.number(),
  /** Interactions recorded without the previews the capture mode asked for, while km was behind. */
  droppedPreviews: z.number(),
  /** Why km could not start the server (e.g. its command was not found), else null. */
  startError: z.string().nullable(),
});
export const SessionsAnswerSchema = z.object({ sessions: z.array(SessionAnswerSchema) });

const { type: _type, v: _v, ts: _ts, ...interactionFields } = InteractionSchema.shape;
export const InteractionAnswerSchema = z.object({
  ...interactionFields,
  recordedAt: z.string(),
  receivedAt: z.string().optional(),
  batchId: z.string().optional(),
});
export const SessionInteractionsAnswerSchema = z.object({ sessionId: z.string(), interactions: z.array(InteractionAnswerSchema) });

const OutcomeSchema = InteractionSchema.shape.outcome;
export const RecentInteractionSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  projectId: z.string(),
  userId: z.string(),
  server: z.string(),
  method: z.string(),
  tool: z.string().nullable(),
  target: z.string().nullable(),
  latencyMs: z.number().nullable(),
  requestBytes: z.number(),
  responseBytes: z.number(),
  outcome: OutcomeSchema,
  error: z.object({ code: z.number(), message: z.string() }).nullable(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  receivedAt: z.string(),
  /** km's policy refused the call (the server never saw it); absent otherwise. */
  refusedByPolicy: InteractionSchema.shape.refusedByPolicy,
  /** The client ended the session before the answer (no timeout of the server's); absent otherwise. */
  abandoned: InteractionSchema.shape.abandoned,
});
export const RecentInteractionsAnswerSchema = z.object({
  interactions: z.array(RecentInteractionSchema),
  /** Pass it back as `after`; null until there is an interaction. */
  cursor: z.string().nullable(),
  /** More arrived since the cursor than one answer holds: some were skipped. */
  missed: z.boolean(),
});

// Cost Center
export const CostFiguresSchema = z.object({ costUsd: z.number(), tokensIn: z.number(), tokensOut: z.number(), interactions: z.number() });
export const CostReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  groupBy: z.enum(['project', 'user', 'server', 'tool', 'model', 'day']),
  currency: z.literal('USD'),
  total: CostFiguresSchema,
  groups: z.array(CostFiguresSchema.extend({ key: z.string() })),
  /**
   * False when a filter's keys may have spend summed under (other): more keys in one hour than a bucket keeps (500).
   * Optional so that a km reads an API from before it (absent: not said).
   */
  complete: z.boolean().optional(),
});
export const CostSummarySchema = z.object({
  today: CostFiguresSchema,
  yesterday: CostFiguresSchema,
  monthToDate: CostFiguresSchema,
  forecastMonthEnd: z.number(),
  byDay: z.array(z.object({ day: z.string(), costUsd: z.number() })),
  /** As the report's: false when a filter's keys may have spend summed under (other). */
  complete: z.boolean().optional(),
});
export const ContextTaxSchema = z.object({
  servers: z.array(
    z.object({
      server: z.string(),
      tools: z.number(),
      definitionBytes: z.number(),
      contextTokens: z.number().nullable(),
      /** null when the server's model has no known price. */
      costUsdPerSession: z.number().nullable(),
    }),
  ),
});
export const BudgetViewSchema = z.object({
  scope: z.enum(['org', 'project', 'team']),
  projectId: z.string().nullable(),
  teamId: z.string().nullable(),
  monthlyUsd: z.number(),
  period: z.string(),
  spentUsd: z.number(),
  percent: z.number(),
  forecastUsd: z.number(),
  crossed: z.array(z.number()),
});
export const BudgetsAnswerSchema = z.object({ budgets: z.array(BudgetViewSchema) });
export const BudgetSetAnswerSchema = z.object({ accepted: z.literal(true), event: z.record(z.string(), z.unknown()) });

// Performance Hub
const latencyFigures = {
  count: z.number(),
  errors: z.number(),
  toolErrors: z.number(),
  timeouts: z.number(),
  /** (errors + tool errors + timeouts) / count: the one error rate of every view. */
  errorRate: z.number(),
  /** null when no request in the group was answered. */
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
  max: z.number().nullable(),
};
export const LatencySummarySchema = z.object({
  ...latencyFigures,
  errorCodes: z.record(z.string(), z.number()),
  bytesIn: z.number(),
  bytesOut: z.number(),
  totalMs: z.number(),
});
export const LatencyGroupSchema = LatencySummarySchema.extend({ key: z.string(), server: z.string().optional(), tool: z.string().optional() });
export const LatencyReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  groupBy: z.enum(['server', 'tool', 'method']),
  total: LatencySummarySchema,
  groups: z.array(LatencyGroupSchema),
});
export const TimeseriesPointSchema = z.object({ t: z.string(), ...latencyFigures });
export const TimeseriesAnswerSchema = z.object({ bucket: z.enum(['hour', 'day']), points: z.array(TimeseriesPointSchema) });
export const SlowInteractionSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  server: z.string(),
  tool: z.string().nullable(),
  method: z.string(),
  latencyMs: z.number(),
  startedAt: z.string(),
  outcome: OutcomeSchema,
});
export const SlowestAnswerSchema = z.object({ interactions: z.array(SlowInteractionSchema) });
export const BottleneckSchema = z.object({
  server: z.string(),
  /** null: the server's methods other than tools/call (initialize, resources/read, ...). */
  tool: z.string().nullable(),
  totalMs: z.number(),
  /** totalMs over the waiting time of all groups (0..1). */
  share: z.number(),
  count: z.number(),
});
export const BottlenecksAnswerSchema = z.object({ groups: z.array(BottleneckSchema) });

// Risk Monitor
export const RiskFindingSchema = z.object({
  id: z.string(),
  kind: z.enum(FINDING_KINDS as readonly [string, ...string[]]),
  ruleId: z.string(),
  severity: SeveritySchema,
  path: z.string(),
  sessionId: z.string().nullable(),
  interactionId: z.string().nullable(),
  server: z.string().nullable(),
  tool: z.string().nullable(),
  userId: z.string().nullable(),
  projectId: z.string().nullable(),
  ts: z.string(),
  status: FindingStatusSchema,
  preview: z.string().nullable(),
  detail: z.string().nullable(),
});
export const RiskFindingsAnswerSchema = z.object({ findings: z.array(RiskFindingSchema) });
export const RiskSummarySchema = z.object({
  open: z.number(),
  bySeverity: z.object({ low: z.number(), medium: z.number(), high: z.number(), critical: z.number() }),
  byRule: z.array(z.object({ ruleId: z.string(), count: z.number() })),
  byDay: z.array(z.object({ day: z.string(), count: z.number() })),
  anomalies: z.array(RiskFindingSchema),
  /** False when there were more open findings than a summary reads: the counts are of the newest of them. */
  complete: z.boolean(),
});

// Ingest
export const IngestAnswerSchema = z.object({ batchId: z.string(), accepted: z.number(), duplicates: z.number() });

/** The answers as types, for the dashboard and the CLI (z.infer: they cannot drift from the schemas). */
export type SessionAnswer = z.infer<typeof SessionAnswerSchema>;
export type InteractionAnswer = z.infer<typeof InteractionAnswerSchema>;
export type TeamAnswer = z.infer<typeof TeamSchema>;
export type RecentInteraction = z.infer<typeof RecentInteractionSchema>;
export type RecentInteractionsAnswer = z.infer<typeof RecentInteractionsAnswerSchema>;
export type CostFiguresAnswer = z.infer<typeof CostFiguresSchema>;
export type CostReportAnswer = z.infer<typeof CostReportSchema>;
export type CostSummaryAnswer = z.infer<typeof CostSummarySchema>;
export type ContextTaxAnswer = z.infer<typeof ContextTaxSchema>;
export type BudgetsAnswer = z.infer<typeof BudgetsAnswerSchema>;
export type LatencySummaryAnswer = z.infer<typeof LatencySummarySchema>;
export type LatencyGroupAnswer = z.infer<typeof LatencyGroupSchema>;
export type LatencyReportAnswer = z.infer<typeof LatencyReportSchema>;
export type TimeseriesPointAnswer = z.infer<typeof TimeseriesPointSchema>;
export type TimeseriesAnswer = z.infer<typeof TimeseriesAnswerSchema>;
export type SlowInteractionAnswer = z.infer<typeof SlowInteractionSchema>;
export type BottleneckAnswer = z.infer<typeof BottleneckSchema>;
export type RiskFindingAnswer = z.infer<typeof RiskFindingSchema>;
export type RiskSummaryAnswer = z.infer<typeof RiskSummarySchema>;

// Teams and compliance (#14)
export const WhoamiAnswerSchema = z.strictObject({
  orgId: z.string(),
  role: RoleSchema,
  projectId: z.string().nullable(),
  actor: z.string(),
});
export const ApiKeySchema = z.strictObject({
  keyId: z.string(),
  prefix: z.string(),
  role: RoleSchema,
  projectId: z.string().nullable(),
  label: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
});
export const KeysAnswerSchema = z.strictObject({ orgId: z.string(), keys: z.array(ApiKeySchema) });
export const CreatedKeyAnswerSchema = z.strictObject({ orgId: z.string(), key: z.string(), apiKey: ApiKeySchema });
export const MemberSchema = z.strictObject({
  login: z.string(),
  role: RoleSchema,
  invitedAt: z.string().nullable(),
  invitedBy: z.string().nullable(),
  joinedAt: z.string().nullable(),
  lastSignInAt: z.string().nullable(),
});
/**
 * An invitation's answer; where it lowered a member's role, keysAbove: the shown prefixes of the keys they made with
 * a role above the new one, which still work (a key keeps its role); or, asked with revokeKeys, keysRevoked: those
 * keys, revoked with the change.
 */
export const InvitedMemberSchema = MemberSchema.extend({ keysAbove: z.array(z.string()).optional(), keysRevoked: z.array(z.string()).optional() });
export const MembersAnswerSchema = z.strictObject({ orgId: z.string(), members: z.array(MemberSchema) });
/** A member taken out of the org: who, by whom, and the teams that no longer name them. */
export const RemovedMemberAnswerSchema = z.strictObject({
  login: z.string(),
  role: RoleSchema,
  removedBy: z.string(),
  teamsLeft: z.array(z.string()),
  /** The shown prefixes of the keys they made that still work: a removal leaves them (they may serve CI) unless asked. */
  keysMade: z.array(z.string()),
  /** Asked with revokeKeys: the keys they made, revoked with the removal (keysMade is then empty); absent from APIs before it. */
  keysRevoked: z.array(z.string()).optional(),
});
export const TeamSchema = z.strictObject({
  teamId: z.string(),
  name: z.string(),
  userIds: z.array(z.string()),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export const TeamsAnswerSchema = z.strictObject({ orgId: z.string(), teams: z.array(TeamSchema) });
/** One line of GET /api/audit?format=ndjson: a record of the chain, or the signed head that ends it. */
export const AuditLineSchema = z.union([
  z.strictObject({ seq: z.number().int().positive(), at: z.string(), type: z.string(), event: z.record(z.string(), z.unknown()), prevHash: z.string(), hash: z.string() }),
  z.strictObject({
    head: z.literal(true),
    orgId: z.string(),
    count: z.number().int().nonnegative(),
    hash: z.string(),
    signedAt: z.string(),
    checkpoint: z.strictObject({ seq: z.number(), hash: z.string() }).nullable(),
    /** What this export holds (signed): the window asked, and its first and last record and the last one's hash (null: none). */
    range: z.strictObject({
      from: z.string().nullable(),
      to: z.string().nullable(),
      firstSeq: z.number().int().positive().nullable(),
      lastSeq: z.number().int().positive().nullable(),
      lastHash: z.string().nullable(),
    }),
    publicKey: z.string(),
    signature: z.string(),
  }),
  /** The first line after a retention cut: the last record removed, which the next one links to. */
  z.strictObject({ checkpoint: z.literal(true), orgId: z.string(), seq: z.number().int().positive(), hash: z.string(), at: z.string() }),
]);
/** The key a server signs audit heads with: what `km audit verify` checks a head's key against. */
export const AuditKeyAnswerSchema = z.strictObject({
  algorithm: z.literal('Ed25519'),
  /** SPKI DER, base64: as a head's publicKey. */
  publicKey: z.string(),
  /** `SHA256:` and the base64 of the sha256 of the SPKI DER. */
  fingerprint: z.string(),
  /** The same key as a PEM file (`km audit verify --key FILE`). */
  pem: z.string(),
});
export const RetentionAnswerSchema = z.strictObject({
  orgId: z.string(),
  rawEventDays: z.number().nullable(),
  previewDays: z.number().nullable(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
  lastSweep: z
    .strictObject({
      at: z.string(),
      eventsRemoved: z.number(),
      previewsRemoved: z.number(),
      checkpoint: z.strictObject({ seq: z.number(), hash: z.string() }).nullable(),
      waitingForReadModels: z.literal(true).optional(),
    })
    .nullable(),
});

// The funnel and the guided first run (issue 15).
const FunnelCountSchema = z.object({ count: z.number(), first: z.string().nullable(), last: z.string().nullable() });
export const FunnelAnswerSchema = z.object({
  orgId: z.string(),
  landingViews: FunnelCountSchema,
  signIns: FunnelCountSchema,
  keysCreated: FunnelCountSchema,
  firstEventAt: z.string().nullable(),
  eventCount: z.number(),
  gapsMs: z.object({ landingToSignIn: z.number().nullable(), signInToKey: z.number().nullable(), keyToFirstEvent: z.number().nullable(), signInToFirstEvent: z.number().nullable() }),
});
const FirstCallSchema = z.object({
  receivedAt: z.string(),
  sessionId: z.string(),
  server: z.string(),
  method: z.string(),
  target: z.string().nullable(),
  outcome: z.string(),
  latencyMs: z.number().nullable(),
  tokensIn: z.number().nullable(),
  tokensOut: z.number().nullable(),
  costUsd: z.number().nullable(),
  findingCount: z.number(),
  findings: z.array(z.object({ ruleId: z.string(), severity: SeveritySchema, path: z.string() })),
});
export const FirstRunAnswerSchema = z.object({
  orgId: z.string(),
  firstEvent: z.object({ receivedAt: z.string(), type: z.string(), sessionId: z.string(), server: z.string() }).nullable(),
  firstInteraction: FirstCallSchema.nullable(),
  firstToolCall: FirstCallSchema.nullable(),
});
export const LandingViewAnswerSchema = z.object({ recorded: z.boolean() });
