import type { InvocationContext } from '@azure/functions';
import type { StoreOrgEventArchive } from '../adapters/store-org-event-archive';
import { firstSightings } from '../first-sightings';
import type { PositionedEvent } from '../projector';
import type { ReadModelStore } from '../ports';
import { eventHubsPartition, eventHubsSequenceNumbers } from './project-events';
import { parseStoredEvent } from './stored-event';

/** The audit archive trigger's name: its Function and its consumer group (infra/bicep declares the group). */
export const AUDIT_ARCHIVE = 'audit-archive';

export interface ArchiveTriggerDeps {
  /** Built lazily by the app (cloud-ports); tests pass their own. */
  readModelStore: () => Promise<ReadModelStore>;
  archive: () => Promise<StoreOrgEventArchive>;
}

export type ArchiveTriggerHandler = (messages: unknown[], context: InvocationContext) => Promise<void>;

/**
 * The audit archive's Event Hubs trigger (cardinality 'many', its own consumer group): every event, with its
 * sequence number, into the org's archive pages (adapters/store-org-event-archive.ts), which the audit export and
 * the retention sweep read back by org. As in the projector triggers: a client's retry appended again is dropped by
 * its first sighting, a redelivery by the pages' sequence numbers, and an event that does not parse (or comes without
 * a sequence number, which never happens from the host) is logged without its content and skipped, not retried
 * forever. A failed write is thrown, so the retry policy runs the batch again.
 */
export function makeArchiveTriggerHandler(deps: ArchiveTriggerDeps): ArchiveTriggerHandler {
  return async (messages, context) => {
    const events: PositionedEvent[] = [];
    const partition = eventHubsPartition(context);
    const sequenceNumbers = eventHubsSequenceNumbers(context);
    messages.forEach((message, index) => {
      const parsed = parseStoredEvent(message);
      const position = Number(sequenceNumbers[index] ?? Number.NaN);
      if (parsed.ok && Number.isSafeInteger(position)) events.push({ event: parsed.event, partition, position });
      else context.warn(`audit-archive: skipped event ${index} (sequence number ${sequenceNumbers[index] ?? 'unknown'}): ${parsed.ok ? 'no sequence number' : parsed.issues}`);
    });
    if (events.length === 0) return;
    const firsts = await firstSightings(await deps.readModelStore(), events);
    await (await deps.archive()).archive(firsts);
  };
}
