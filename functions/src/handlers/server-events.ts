import type { InvocationContext } from '@azure/functions';
import { unavailable, type LoggedEvent } from '@km/shared';
import { describeError } from '../logger';
import type { Authenticator, EventLog, ReadModelStore } from '../ports';

/**
 * Appends events the server makes (budgets, finding status) and wakes the projectors: one way for every route, so
 * a log that cannot take them is the same 503 with Retry-After everywhere (the cause goes to the log, not the caller).
 */
export async function appendServerEvents(ports: { eventLog: EventLog; onEventsAppended?: () => void }, events: LoggedEvent[], context: InvocationContext): Promise<void> {
  try {
    await ports.eventLog.append(events);
  } catch (error) {
    context.error(`${context.functionName}: appending ${events.map((event) => event.id).join(', ')} failed: ${describeError(error)}`);
    throw unavailable('the event log is unavailable right now: retry later.', 5);
  }
  ports.onEventsAppended?.();
}

/** What a route that records a change as server events needs: the directories of keys, members and teams. */
export interface ChangeDeps {
  eventLog: EventLog;
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
  newBatchId: () => string;
  onEventsAppended?: () => void;
}

/** appendServerEvents bound to one request, for a directory that appends its events itself. */
export const serverEventAppender = (deps: ChangeDeps, context: InvocationContext) => (events: LoggedEvent[]) => appendServerEvents(deps, events, context);
