export { newEventId, derivedEventId, eventIdTime, EVENT_ID_PATTERN } from './ids';
export {
  KmEventSchema,
  IngestBatchSchema,
  InteractionSchema,
  FindingSchema,
  DirectionSchema,
  MAX_EVENTS_PER_BATCH,
} from './events';
export type {
  KmEvent,
  KmEventType,
  EventOf,
  Envelope,
  Direction,
  Finding,
  IngestBatch,
  StoredEvent,
  SessionStarted,
  SessionIdentified,
  SessionEnded,
  Interaction,
  Notification,
  ToolsListed,
  Violation,
} from './events';
export type { Projection } from './projections/projection';
export { own } from './projections/projection';
export { sessionsProjection, sessionView, MAX_SESSION_PAGES } from './projections/sessions';
export type { SessionDoc } from './projections/sessions';
export { interactionsProjection, INTERACTION_ROW_FIELDS, readInteractionDocs, pageInteractions, isInteractionPage, interactionBatchKey, interactionPageId, withoutInteractions, MAIN_PAGE_MAX_EVENT_BYTES, LARGE_PAGES } from './projections/interactions';
export type { InteractionDoc, InteractionPageDoc } from './projections/interactions';
// Cost Center (#3): tokens, pricing, server-made budget events, the cost fold and its query shapes.
export { ServerEventSchema, BudgetSetSchema, BudgetThresholdCrossedSchema, BudgetScopeSchema, SERVER_EVENT_TYPES, isServerEvent, urlHasCredentials } from './events';
export type { ServerEvent, StoredServerEvent, LoggedEvent, BudgetSet, BudgetThresholdCrossed, BudgetScope } from './events';
export { estimateTokens, countO200kTokens, O200K_PIECES, TOKENIZER_FACTORS, SAMPLE_ABOVE_CHARS, SAMPLE_WINDOWS, SAMPLE_WINDOW_CHARS } from './tokens';
export type { TokenizerFamily } from './tokens';
export { PRICE_TABLE, PRICE_TABLE_DATE, DEFAULT_MODEL, resolvePrice, familyOf, toolFixedCostUsd, costUsd } from './pricing';
export { CostConfigSchema } from './pricing/config';
export type { ModelPrice, CostConfig } from './pricing';
export { costProjection, budgetDocId, budgetDocs, crossedThresholds, budgetSpentUsd, COST_MODEL, BUDGET_THRESHOLDS, toolGroupKey, toolOfGroupKey, withToolKeys } from './projections/cost';
export type { CostDoc, CostBucketDoc, ContextDoc, BudgetDoc, BudgetState, CostCounters } from './projections/cost';
export { costReport, costSummary, contextTax, narrowBuckets, toolOnAnyServer, overflowed, mayMissSpend, dayFromHours, type CostFilter, budgetView, forecastMonthEnd, COST_GROUP_BYS, utcDay, utcMonth, addDays } from './projections/cost/queries';
export type { CostReport, CostSummary, CostFigures, CostGroupBy, BudgetView } from './projections/cost/queries';
// Performance Hub (#5): latency buckets, sketches, per-session waits
export {
  latencyProjection,
  addSessionWait,
  LEGACY_LATENCY_SESSIONS_MODEL,
  latencyBucketId,
  sessionDayId,
  scopeName,
  PERIOD_LENGTH_MS,
  expandBucket,
  periodStart,
  toolKey,
  toolOf,
  keepSlowest,
  slowInteractionOf,
  SLOWEST_KEPT,
} from './projections/latency';
export type {
  LatencyBucket,
  LatencyBucketDoc,
  LatencyDoc,
  SessionDayDoc,
  LatencySessionDoc,
  LatencyGranularity,
  LatencyScope,
  SlowInteraction,
  SlowRow,
  SessionWait,
  ToolStats,
} from './projections/latency';
export { bucketsCovering, bucketsOfPeriod, wholeHoursCovering } from './projections/latency/ranges';
export type { BucketRef } from './projections/latency/ranges';
export { emptyStats, mergeStats, mergeAllStats, summarizeStats, summarizeAllStats, addInteraction } from './projections/latency/stats';
export type { LatencyStats, LatencySummary, StoredStats } from './projections/latency/stats';
export {
  LATENCY_RELATIVE_ACCURACY,
  emptySketch,
  addToSketch,
  mergeSketches,
  sketchQuantile,
  sketchCount,
} from './projections/latency/sketch';
export type { LatencySketch } from './projections/latency/sketch';
// risk monitor
export { redactText, matchText, redactMatches, TEXT_RULES, entropy, luhn } from './risk/rules';
export type { Severity, FindingKind, TextRule } from './risk/rules';
export { safeField, redactEventStrings } from './risk/fields';
export { scanValue, scanRequest, scanResponse, destructiveTool, MAX_FINDINGS } from './risk/scan';
export type { ScanResult } from './risk/scan';
export { scanToolDefinitions, POISONING_RULES } from './risk/poisoning';
export { findingKind, RUG_PULL_RULE, FINDING_KINDS, SEVERITIES } from './risk/catalog';
export { riskProjection, riskFindingView, expandFindings, serverDocId, toolFindingId, DAYS_KEPT, STATUS_ONLY_WHERE, UNUSUAL_HOURS_WHERE, isStatusOnly, hoursFindingId, filesFindingId } from './projections/risk';
export type { RiskFindingDoc, RiskFindingView, HourUse, SessionFiles } from './projections/risk';
export { FindingStatusSchema, FindingStatusChangedSchema } from './events';
export type { FindingStatus, PolicyBlocked, RiskDetected, FindingStatusChanged } from './events';
// The HTTP API contract: every route once, with its parameters and answer (shared/src/api).
export * from './api';
// Teams and compliance (#14): roles and what they allow.
export { ROLES, RoleSchema, keyRights, keyRoleMayMake, roleAllows, roleMayGrant } from './tenancy';
export type { Role, Permission } from './tenancy';
export { KeyCreatedSchema, KeyRevokedSchema, MemberInvitedSchema, MemberSignedInSchema, MemberRemovedSchema, GithubLoginSchema, TeamSetSchema, TeamIdSchema, RetentionSetSchema } from './events';
export type { KeyCreated, KeyRevoked, MemberInvited, MemberSignedIn, MemberRemoved, TeamSet, RetentionSet } from './events';
export { API_KEY_PREFIXES, KEY_ID_PATTERN, keyIdOfKey, keyIdOfReference, keyDisplayPrefix } from './api-keys';
export type { ApiKeyPrefix } from './api-keys';
// The funnel and the guided first run (issue 15)
export { LandingViewedSchema } from './events';
export type { LandingViewed } from './events';
export { funnelProjection, funnelView, firstRunView, FUNNEL_DOC_ID, FIRST_FINDINGS_KEPT } from './projections/funnel';
export type { FunnelDoc, FunnelView, FunnelCount, FirstCall } from './projections/funnel';
