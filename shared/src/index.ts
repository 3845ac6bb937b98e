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
// Performance Hub (#5): latency buckets, sketches, per-session waits
export {
  latencyProjection,
  latencySessionsProjection,
  latencyBucketId,
  periodStart,
  toolKey,
  toolOf,
  keepSlowest,
  SLOWEST_KEPT,
} from './projections/latency';
export type {
  LatencyBucketDoc,
  LatencySessionDoc,
  LatencyGranularity,
  LatencyScope,
  SlowInteraction,
  SessionWait,
  ToolStats,
} from './projections/latency';
export { bucketsCovering } from './projections/latency/ranges';
export type { BucketRef } from './projections/latency/ranges';
export { emptyStats, mergeStats, summarizeStats, addInteraction } from './projections/latency/stats';
export type { LatencyStats, LatencySummary } from './projections/latency/stats';
export {
  LATENCY_RELATIVE_ACCURACY,
  emptySketch,
  addToSketch,
  mergeSketches,
  sketchQuantile,
  sketchCount,
} from './projections/latency/sketch';
export type { LatencySketch } from './projections/latency/sketch';
