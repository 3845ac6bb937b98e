export { newEventId, eventIdTime, EVENT_ID_PATTERN } from './ids';
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
export { sessionsProjection, sessionView } from './projections/sessions';
export type { SessionDoc } from './projections/sessions';
export { interactionsProjection } from './projections/interactions';
export type { InteractionDoc } from './projections/interactions';
// risk monitor
export { redactText, matchText, redactMatches, TEXT_RULES, entropy, luhn } from './risk/rules';
export type { Severity, FindingKind, TextRule } from './risk/rules';
export { scanValue, scanRequest, scanResponse, destructiveTool, MAX_FINDINGS } from './risk/scan';
export type { ScanResult } from './risk/scan';
export { scanToolDefinitions, POISONING_RULES } from './risk/poisoning';
export { findingKind, RUG_PULL_RULE, FINDING_KINDS, SEVERITIES } from './risk/catalog';
export { riskProjection, riskFindingView } from './projections/risk';
export type { RiskFindingDoc, RiskFindingView } from './projections/risk';
export { SERVER_ONLY_EVENT_TYPES, FindingStatusSchema } from './events';
export type { FindingStatus, PolicyBlocked, RiskDetected, FindingStatusChanged } from './events';
