import { z } from 'zod';
import { EVENT_ID_PATTERN } from './ids';
import { RoleSchema } from './tenancy';

/**
 * The event model of DESIGN.md. Events are immutable facts made on the user's machine. These schemas are
 * strict because they guard our API: an unknown field is a client bug we want to hear about, not data to store.
 */

const name = z.string().min(1).max(200);
/**
 * UTC with milliseconds ('2026-11-25T10:00:00.000Z', as toISOString writes it): read models sort and compare these
 * strings, so one spelling per instant. Another precision sorted wrongly ('...:00Z' after '...:00.500Z').
 */
const isoTime = z.iso.datetime({ precision: 3, error: 'an ISO 8601 UTC time with milliseconds, as 2026-11-25T10:00:00.000Z' });
/** Upper bounds of the numbers an event may carry: generous for real traffic, far from where sums lose precision. */
export const MAX_BYTES = 1e12;
export const MAX_TOKENS = 1e12;
export const MAX_COST_USD = 1e6;
export const MAX_DURATION_MS = 86_400_000;
const byteCount = z.number().int().nonnegative().max(MAX_BYTES);
const tokenCount = z.number().nonnegative().max(MAX_TOKENS).nullable();
/**
 * A JSON-RPC error code as the server sent it, clamped to the safe-integer range: a code the server made up beyond
 * it must not make the answered call invalid (the call is still recorded, with the nearest code we can sum exactly).
 */
const errorCode = z.preprocess(
  (value) => (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) ? Math.sign(value) * Number.MAX_SAFE_INTEGER : value),
  z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
);
export const DirectionSchema = z.enum(['client_to_server', 'server_to_client']);
export type Direction = z.infer<typeof DirectionSchema>;

export const ImplementationSchema = z.strictObject({ name: z.string().max(200), version: z.string().max(100).optional() });

const envelope = {
  id: z.string().regex(EVENT_ID_PATTERN, 'must be a UUIDv7 made by the client'),
  v: z.literal(1),
  ts: isoTime,
  orgId: name,
  projectId: name,
  userId: name,
  machineId: name,
  sessionId: name,
  server: z.strictObject({ name, command: z.string().max(2000) }),
};

export const FindingSchema = z.strictObject({
  ruleId: name,
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  /** JSON path inside the message where the finding sits; never the matched text itself. */
  path: z.string().max(500),
});
export type Finding = z.infer<typeof FindingSchema>;

export const SessionStartedSchema = z.strictObject({
  ...envelope,
  type: z.literal('session.started'),
  transport: z.enum(['stdio', 'http']),
  pid: z.number().int().nonnegative(),
  kmVersion: z.string().max(50),
});

/** What the wrapper learned about the session from the protocol: initialize, server/discover or request _meta. */
export const SessionIdentifiedSchema = z.strictObject({
  ...envelope,
  type: z.literal('session.identified'),
  via: z.enum(['initialize', 'discover', 'meta']),
  protocolVersion: z.string().max(50).nullable(),
  client: ImplementationSchema.nullable(),
  serverInfo: ImplementationSchema.nullable(),
});

export const SessionEndedSchema = z.strictObject({
  ...envelope,
  type: z.literal('session.ended'),
  exitCode: z.number().int().nullable(),
  signal: z.string().max(20).nullable(),
  durationMs: z.number().nonnegative().max(MAX_DURATION_MS * 366),
  /**
   * Events km did not make (observer errors, oversized frames, a backlog past the wrapper's bound, a full spool);
   * the forwarded bytes were unaffected.
   */
  droppedObservations: byteCount,
  /** Interactions recorded without the previews their capture mode asked for, while km was behind; absent from older km versions. */
  droppedPreviews: byteCount.optional(),
  /** Why the server never ran (its command not found, not executable): a broken client config, made visible. */
  startError: z.string().max(500).optional(),
});

export const InteractionSchema = z.strictObject({
  ...envelope,
  type: z.literal('mcp.interaction'),
  direction: DirectionSchema,
  /** The JSON-RPC id as JSON text, so 1 and "1" stay distinct. */
  requestId: z.string().max(200),
  method: name,
  /** The tool or prompt name, or the resource URI: what the method acted on. */
  target: z.string().max(1000).nullable(),
  protocolVersion: z.string().max(50).nullable(),
  startedAt: isoTime,
  endedAt: isoTime.nullable(),
  latencyMs: z.number().nonnegative().max(MAX_DURATION_MS).nullable(),
  requestBytes: byteCount,
  responseBytes: byteCount,
  outcome: z.enum(['ok', 'error', 'tool_error', 'unanswered']),
  error: z.strictObject({ code: errorCode, message: z.string().max(1000) }).nullable(),
  /** 2026-07-28 results carry a resultType; 'input_required' is one leg of a multi round-trip request. */
  resultType: z.string().max(50).nullable(),
  tokensIn: tokenCount,
  tokensOut: tokenCount,
  costUsd: z.number().nonnegative().max(MAX_COST_USD).nullable(),
  findings: z.array(FindingSchema).max(100),
  requestPreview: z.string().max(4000).nullable(),
  responsePreview: z.string().max(4000).nullable(),
  /** The model the token and cost estimates were priced for (Cost Center); absent from older wrappers. */
  model: z.string().max(200).nullable().optional(),
  /**
   * km answered the request itself (the project's policy refused it, or its batch): the server never saw it, so it
   * is no call of the server's (latency, usage anomalies, files touched). Set by the forwarding thread's gate, never
   * read off the wire. Absent when the server answered, and from older wrappers.
   */
  refusedByPolicy: z.literal(true).optional(),
  /**
   * Unanswered because the client ended the session soon after asking (a health check that kills the server once
   * it has what it wanted): the client stopped waiting, so it is no timeout of the server's. Absent otherwise, and
   * from older wrappers.
   */
  abandoned: z.literal(true).optional(),
});

export const NotificationSchema = z.strictObject({
  ...envelope,
  type: z.literal('mcp.notification'),
  direction: DirectionSchema,
  method: name,
  bytes: byteCount,
});

export const ToolDefinitionSchema = z.strictObject({
  name,
  /** sha256 of the description and of the input schema: enough to see a change, nothing to leak. */
  descriptionHash: z.string().max(100),
  schemaHash: z.string().max(100),
});

export const ToolsListedSchema = z.strictObject({
  ...envelope,
  type: z.literal('mcp.tools_listed'),
  tools: z.array(ToolDefinitionSchema).max(5000),
  /** Bytes of the tools/list result: the context every session pays for the definitions. */
  definitionBytes: byteCount,
  contextTokens: tokenCount,
});

export const ViolationSchema = z.strictObject({
  ...envelope,
  type: z.literal('protocol.violation'),
  direction: DirectionSchema,
  kind: z.enum(['non_json', 'invalid_message', 'unknown_response_id', 'oversized_frame']),
  bytes: byteCount,
  detail: z.string().max(500),
});

export const PolicyBlockedSchema = z.strictObject({
  ...envelope,
  type: z.literal('policy.blocked'),
  method: name,
  target: z.string().max(1000).nullable(),
  ruleId: name,
  reason: z.string().max(500),
});

/** Risk monitor: findings that belong to no single interaction (tool poisoning and rug pulls in tools/list). */
export const RiskDetectedSchema = z.strictObject({
  ...envelope,
  type: z.literal('risk.detected'),
  method: name,
  target: z.string().max(1000).nullable(),
  findings: z.array(FindingSchema).min(1).max(100),
  /** What changed or why, in words; never the matched text. */
  detail: z.string().max(500),
});

export const FindingStatusSchema = z.enum(['open', 'acknowledged', 'resolved']);
export type FindingStatus = z.infer<typeof FindingStatusSchema>;

export const KmEventSchema = z.discriminatedUnion('type', [
  SessionStartedSchema,
  SessionIdentifiedSchema,
  SessionEndedSchema,
  InteractionSchema,
  NotificationSchema,
  ToolsListedSchema,
  ViolationSchema,
  PolicyBlockedSchema,
  // risk monitor
  RiskDetectedSchema,
]);

export type KmEvent = z.infer<typeof KmEventSchema>;
export type KmEventType = KmEvent['type'];
export type EventOf<T extends KmEventType> = Extract<KmEvent, { type: T }>;
export type SessionStarted = EventOf<'session.started'>;
export type SessionIdentified = EventOf<'session.identified'>;
export type SessionEnded = EventOf<'session.ended'>;
export type Interaction = EventOf<'mcp.interaction'>;
export type Notification = EventOf<'mcp.notification'>;
export type ToolsListed = EventOf<'mcp.tools_listed'>;
export type Violation = EventOf<'protocol.violation'>;

/** The fields every event shares; the wrapper fills them once per session. */
export type Envelope = Pick<KmEvent, 'orgId' | 'projectId' | 'userId' | 'machineId' | 'sessionId' | 'server'>;

export const MAX_EVENTS_PER_BATCH = 1000;
export const IngestBatchSchema = z.strictObject({ events: z.array(KmEventSchema).min(1).max(MAX_EVENTS_PER_BATCH) });
export type IngestBatch = z.infer<typeof IngestBatchSchema>;

/** What the server adds on accept. It never rewrites the client's fields. */
export type StoredEvent = KmEvent & { receivedAt: string; batchId: string };

/**
 * Server-made events (budgets, finding status). A union of their own, apart from KmEventSchema, so that the ingest
 * endpoint can never accept one from a client: only the API and the projectors append them to the log.
 */
const serverEnvelope = {
  id: z.string().regex(EVENT_ID_PATTERN, 'must be a UUIDv7'),
  v: z.literal(1),
  ts: isoTime,
  orgId: name,
};
/** A URL with a user or password before its host (scheme://user:password@host): webhooks must not carry one. */
export const urlHasCredentials = (url: string): boolean => /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url);
/** A team's id, as PUT /api/teams/{teamId} takes it. */
const teamIdSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a team id: lowercase letters, digits, ".", "_" and "-", up to 63');
export const TeamIdSchema = teamIdSchema;
export const BudgetScopeSchema = z.enum(['org', 'project', 'team']);
export type BudgetScope = z.infer<typeof BudgetScopeSchema>;

export const BudgetSetSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('budget.set'),
  scope: BudgetScopeSchema,
  /** Null for the org's budget. */
  projectId: name.nullable(),
  /** The team of a team budget (its spend is its users'); absent on org and project budgets. */
  teamId: teamIdSchema.optional(),
  monthlyUsd: z.number().nonnegative().finite().max(1e9),
  webhookUrl: z.url({ protocol: /^https?$/ }).max(2000).nullable(),
  /** Who set it (`key:<id>`, `github:<login>`, `local`); absent on events from before actors were kept. */
  actor: name.optional(),
});

/** Emitted by the cost projector; its id is derived from (org, scope, period, threshold), so a replay cannot repeat it. */
export const BudgetThresholdCrossedSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('budget.threshold_crossed'),
  scope: BudgetScopeSchema,
  projectId: name.nullable(),
  teamId: teamIdSchema.optional(),
  /** The calendar month (UTC) the budget applies to: '2026-11'. */
  period: z.string().regex(/^\d{4}-\d{2}$/),
  threshold: z.number().int().positive(),
  monthlyUsd: z.number().nonnegative(),
  spentUsd: z.number().nonnegative(),
  webhookUrl: z.string().max(2000).nullable(),
});

/** Risk monitor: a finding acknowledged or resolved through the API. */
export const FindingStatusChangedSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('risk.finding_status'),
  findingId: z.string().min(1).max(300),
  status: FindingStatusSchema,
  /** The document that holds the finding when it is not the finding's own: a tool's anomalies live in their server's. */
  documentId: z.string().min(1).max(300).optional(),
  /** Who acknowledged or resolved it; absent on events from before actors were kept. */
  actor: name.optional(),
});

// Teams and compliance (#14): API keys, made and revoked through the API or `km keys`.
const keyId = z.string().regex(/^[a-z0-9]{12}$/, 'must be a key id (12 lowercase letters and digits)');
export const KeyCreatedSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('key.created'),
  keyId,
  /** sha256 of the key, hex: the key itself is shown once and never stored. */
  keyHash: z.string().regex(/^[0-9a-f]{64}$/),
  prefix: z.enum(['km_live_', 'km_test_']),
  role: RoleSchema,
  /** A project key ships and reads that project only. */
  projectId: name.nullable(),
  label: z.string().max(200).nullable(),
  /** Who made it: `key:<id>`, `github:<login>`, `local`, `cli` (km keys on the database itself). */
  actor: name,
});
export const KeyRevokedSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('key.revoked'),
  keyId,
  actor: name,
});

/** A GitHub login, as GitHub spells it (letters, digits, single hyphens, up to 39). */
const githubLogin = z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/, 'must be a GitHub login');
export const MemberInvitedSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('member.invited'),
  login: githubLogin,
  role: RoleSchema,
  actor: name,
});
/** A member signed in to the dashboard; the first time makes an invitation a membership (or, where sign-up is open, a new org with its owner). */
export const MemberSignedInSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('member.signed_in'),
  login: githubLogin,
  provider: z.enum(['github', 'swa-github', 'api-key']),
  role: RoleSchema,
  firstTime: z.boolean(),
});

/**
 * A member (or an open invitation) taken out of the org by an owner or admin: their sign-in no longer works, and the
 * teams that named them are said again without them (team.set events of their own, made with this one).
 */
export const MemberRemovedSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('member.removed'),
  login: githubLogin,
  /** Their role when removed. */
  role: RoleSchema,
  actor: name,
});

/** A team said whole: its name and the users (as events name them) it groups. */
export const TeamSetSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('team.set'),
  teamId: teamIdSchema,
  name: z.string().min(1).max(200),
  userIds: z.array(name).max(1000),
  actor: name,
});

/** An org's retention: how many days raw events and previews are kept (null: for ever). */
export const RetentionSetSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('retention.set'),
  rawEventDays: z.number().int().min(1).max(36500).nullable(),
  previewDays: z.number().int().min(1).max(36500).nullable(),
  actor: name,
});

/**
 * The funnel (issue 15): the landing page was opened. Sent by the page itself (a same-origin beacon, no cookie, nothing
 * about the visitor), recorded in the operator's org: a visitor belongs to no org yet.
 */
export const LandingViewedSchema = z.strictObject({
  ...serverEnvelope,
  type: z.literal('funnel.landing_viewed'),
});

export const ServerEventSchema = z.discriminatedUnion('type', [
  BudgetSetSchema,
  BudgetThresholdCrossedSchema,
  FindingStatusChangedSchema,
  KeyCreatedSchema,
  KeyRevokedSchema,
  MemberInvitedSchema,
  MemberSignedInSchema,
  MemberRemovedSchema,
  TeamSetSchema,
  RetentionSetSchema,
  LandingViewedSchema,
]);
export const GithubLoginSchema = githubLogin;
export type ServerEvent = z.infer<typeof ServerEventSchema>;
export type BudgetSet = Extract<ServerEvent, { type: 'budget.set' }>;
export type BudgetThresholdCrossed = Extract<ServerEvent, { type: 'budget.threshold_crossed' }>;
export type KeyCreated = Extract<ServerEvent, { type: 'key.created' }>;
export type KeyRevoked = Extract<ServerEvent, { type: 'key.revoked' }>;
export type MemberInvited = Extract<ServerEvent, { type: 'member.invited' }>;
export type MemberSignedIn = Extract<ServerEvent, { type: 'member.signed_in' }>;
export type MemberRemoved = Extract<ServerEvent, { type: 'member.removed' }>;
export type TeamSet = Extract<ServerEvent, { type: 'team.set' }>;
export type RetentionSet = Extract<ServerEvent, { type: 'retention.set' }>;
export type LandingViewed = Extract<ServerEvent, { type: 'funnel.landing_viewed' }>;
export type StoredServerEvent = ServerEvent & { receivedAt: string; batchId: string };
/** Everything the event log holds: client events from ingest and server-made events. */
export type LoggedEvent = StoredEvent | StoredServerEvent;
export const SERVER_EVENT_TYPES: ReadonlySet<string> = new Set(ServerEventSchema.options.map((schema) => schema.shape.type.value));
export const isServerEvent = (event: KmEvent | ServerEvent): event is ServerEvent => SERVER_EVENT_TYPES.has(event.type);
// risk monitor
export type PolicyBlocked = EventOf<'policy.blocked'>;
export type RiskDetected = EventOf<'risk.detected'>;
export type FindingStatusChanged = Extract<ServerEvent, { type: 'risk.finding_status' }>;
