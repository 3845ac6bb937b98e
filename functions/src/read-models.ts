import { interactionsProjection, riskProjection, sessionsProjection, type Projection } from '@km/shared';

/**
 * Every read model the app keeps, in one place: the embedded projector loop runs each of them, the cloud will
 * register one Event Hubs consumer per entry, and a new read model is one more line here.
 */
export const readModels: ReadonlyArray<Projection<unknown>> = [
  sessionsProjection,
  interactionsProjection,
  // risk monitor
  riskProjection,
];

/** The query shapes of the query handlers, for stores that index (SQLite); Cosmos indexes every path anyway. */
export const readModelIndexes = [
  { model: sessionsProjection.name, fields: ['firstSeenAt'] },
  { model: interactionsProjection.name, fields: ['sessionId', 'startedAt'] },
  // risk monitor
  { model: riskProjection.name, fields: ['detected', 'ts'] },
];
