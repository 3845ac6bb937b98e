import { funnelProjection } from '@km/shared';
import { costProjection, interactionsProjection, riskProjection, sessionsProjection, type Projection } from '@km/shared';
import { latencyProjection } from '@km/shared'; // Performance Hub (#5)

/**
 * Every read model the app keeps, in one place: the embedded projector loop runs each of them, the cloud will
 * register one Event Hubs consumer per entry, and a new read model is one more line here.
 */
export const readModels: ReadonlyArray<Projection<unknown>> = [
  sessionsProjection,
  interactionsProjection as Projection<unknown>,
  // Cost Center (#3)
  costProjection as Projection<unknown>,
  // Performance Hub (#5)
  latencyProjection as Projection<unknown>,
  // risk monitor
  riskProjection,
  // the funnel (issue 15)
  funnelProjection as Projection<unknown>,
];

/** The query shapes of the query handlers, for stores that index (SQLite); Cosmos indexes every path anyway. */
export const readModelIndexes = [
  { model: sessionsProjection.name, fields: ['firstSeenAt'] },
  // the session list narrowed to a project or a user (and a team's, user by user), newest first
  { model: sessionsProjection.name, fields: ['projectId', 'firstSeenAt'] },
  { model: sessionsProjection.name, fields: ['userId', 'firstSeenAt'] },
  // risk monitor: the sessions flagged with many files (their finding is read out of the session document)
  { model: sessionsProjection.name, fields: ['manyFiles', 'firstSeenAt'] },
  // a session's interactions: the pages of the batches its session document lists
  { model: interactionsProjection.name, fields: ['batch'] },
  // ...and past the batches it lists (MAX_SESSION_PAGES), the pages of its own batches
  { model: interactionsProjection.name, fields: ['session', 'receivedAt'] },
  // the one-per-interaction documents written before pages, still read by session
  { model: interactionsProjection.name, fields: ['sessionId', 'startedAt'] },
  // Cost Center (#3): day/hour buckets by month, context and budget documents by kind
  { model: costProjection.name, fields: ['granularity', 'month', 'period'] },
  { model: costProjection.name, fields: ['kind'] },
  // Performance Hub (#5): km tail reads interactions in arrival order
  { model: interactionsProjection.name, fields: ['receivedAt'] },
  // a scope's latency buckets of one granularity over a range (a project's 30 days are 720 hours)
  { model: latencyProjection.name, fields: ['scope', 'granularity', 'period'] },
  // a project's or user's session days over a range (their hours are the sums of their sessions')
  { model: latencyProjection.name, fields: ['projectId', 'day'] },
  { model: latencyProjection.name, fields: ['userId', 'day'] },
  // risk monitor
  { model: riskProjection.name, fields: ['detected', 'ts'] },
  // the findings of one kind over a range, newest first (the findings routes read the other kinds apart from the
  // anomalies): on detected and ts alone, SQLite read every detected document's fields, behind its JSON, for its kind
  { model: riskProjection.name, fields: ['kind', 'detected', 'ts'] },
  // the retention sweep: the findings folded since its last pass, by when their call was accepted
  { model: riskProjection.name, fields: ['kind', 'detected', 'receivedAt'] },
  // the anomaly documents, which the findings and summary read in full and expand into one finding per tool
  { model: riskProjection.name, fields: ['kind'] },
  // the status events that came before their finding (ruleId still empty), read with the anomalies
  { model: riskProjection.name, fields: ['ruleId'] },
];

/** The read models of these names; `all` is every one. An unknown name is refused, naming the ones there are. */
export function readModelsNamed(names: readonly string[]): Array<Projection<unknown>> {
  if (names.includes('all')) return [...readModels];
  const known = new Map(readModels.map((model) => [model.name, model]));
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`no read model named ${unknown.join(', ')}: give one of ${[...known.keys()].join(', ')}, or all`);
  return [...new Set(names)].map((name) => known.get(name)!);
}
