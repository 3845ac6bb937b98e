import type { InvocationContext } from '@azure/functions';
import type { Projection } from '@km/shared';
import { firstSightings } from '../first-sightings';
import { appendImpliedEvents, projectBatch, type PositionedEvent } from '../projector';
import type { EventLog, ReadModelStore } from '../ports';
import type { Telemetry } from '../telemetry';
import { parseStoredEvent } from './stored-event';

export interface ProjectorTriggerDeps {
  projection: Projection<unknown>;
  /** Built lazily by the app (cloud-ports); tests pass their own. */
  readModelStore: () => Promise<ReadModelStore>;
  /** Where events the documents imply go (budget thresholds): the same hub the trigger reads. */
  eventLog: () => Promise<EventLog>;
  telemetry: () => Telemetry;
  now: () => Date;
}

export type ProjectorTriggerHandler = (messages: unknown[], context: InvocationContext) => Promise<void>;

/**
 * An Event Hubs trigger (cardinality 'many') for one read model: parse each event, fold the batch with the same
 * projectBatch as the embedded loop. The host checkpoints after the function returns; a failure is thrown so the
 * retry policy runs the batch again, and replays are absorbed by the idempotent folds. An event that does not parse
 * can never fold: it is logged (paths only, no payload), counted, and skipped rather than retried forever.
 */
export function makeProjectorTriggerHandler(deps: ProjectorTriggerDeps): ProjectorTriggerHandler {
  const projector = deps.projection.name;
  return async (messages, context) => {
    const events: PositionedEvent[] = [];
    let invalid = 0;
    const partition = eventHubsPartition(context);
    messages.forEach((message, index) => {
      const parsed = parseStoredEvent(message);
      // The sequence number is the event's position in its partition: the documents' replay protection (issue 11).
      const position = Number(eventHubsSequenceNumbers(context)[index] ?? Number.NaN);
      if (parsed.ok) events.push({ event: parsed.event, partition, position: Number.isSafeInteger(position) ? position : null });
      else {
        invalid++;
        const sequenceNumber = eventHubsSequenceNumbers(context)[index];
        context.warn(`project-${projector}: skipped event ${index} (sequence number ${sequenceNumber ?? 'unknown'}): ${parsed.issues}`);
      }
    });
    const store = await deps.readModelStore();
    // A client's retry appended again at a later sequence number is not a new event (Event Hubs keeps both).
    const firsts = events.length > 0 ? await firstSightings(store, events) : [];
    const result =
      firsts.length > 0 ? await projectBatch(deps.projection, store, firsts, appendImpliedEvents(await deps.eventLog(), projector, deps.now)) : { written: 0, folded: 0 };
    const telemetry = deps.telemetry();
    telemetry.projected(projector, { events: messages.length, written: result.written, invalid });
    const oldest = oldestEnqueuedTime(context);
    if (oldest !== null) telemetry.projectorLag(projector, Math.max(0, deps.now().getTime() - oldest));
  };
}

/** The trigger batch's sequence numbers, in the order of its messages (triggerMetadata.sequenceNumberArray). */
export function eventHubsSequenceNumbers(context: InvocationContext): unknown[] {
  const values = context.triggerMetadata?.sequenceNumberArray;
  return Array.isArray(values) ? values : [];
}

/** The partition the trigger batch came from. */
export function eventHubsPartition(context: InvocationContext): string {
  const id = (context.triggerMetadata?.partitionContext as { partitionId?: unknown } | undefined)?.partitionId;
  return typeof id === 'string' ? id : 'unknown';
}

function oldestEnqueuedTime(context: InvocationContext): number | null {
  const values = context.triggerMetadata?.enqueuedTimeUtcArray;
  if (!Array.isArray(values)) return null;
  const times = values.map((value) => new Date(value as string | Date).getTime()).filter((time) => Number.isFinite(time));
  return times.length > 0 ? Math.min(...times) : null;
}
