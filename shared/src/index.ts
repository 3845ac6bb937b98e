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
export { redactText } from './risk/redact';
