import type { LoggedEvent } from '@km/shared';
import type { AppendResult, EventLog, LogPosition, RetainingLog } from '../ports';

/** The reference EventLog: what the SQLite log does, in memory. Used by unit tests. */
export class MemoryEventLog implements EventLog, RetainingLog {
  // Events are kept as JSON text so that a caller mutating its objects can never change the log, as with SQLite.
  private readonly entries: Array<{ position: LogPosition; body: string }> = [];
  private readonly ids = new Set<string>();
  private readonly checkpoints = new Map<string, LogPosition>();
  private lastPosition: LogPosition = 0;

  async append(events: LoggedEvent[]): Promise<AppendResult> {
    let appended = 0;
    for (const event of events) {
      // An event's identity is (orgId, id): another tenant's id never shadows this one.
      const key = JSON.stringify([event.orgId, event.id]);
      if (this.ids.has(key)) continue;
      this.ids.add(key);
      this.entries.push({ position: ++this.lastPosition, body: JSON.stringify(event) });
      appended++;
    }
    return { appended, duplicates: events.length - appended };
  }

  async removeEvents(orgId: string, ids: ReadonlySet<string>): Promise<number> {
    const before = this.entries.length;
    const kept = this.entries.filter((entry) => {
      const event = JSON.parse(entry.body) as LoggedEvent;
      return !(event.orgId === orgId && ids.has(event.id));
    });
    this.entries.splice(0, this.entries.length, ...kept);
    return before - kept.length;
  }

  async read(after: LogPosition, max: number): Promise<Array<{ position: LogPosition; event: LoggedEvent }>> {
    const page: Array<{ position: LogPosition; event: LoggedEvent }> = [];
    for (const entry of this.entries) {
      if (page.length >= max) break;
      if (entry.position > after) page.push({ position: entry.position, event: JSON.parse(entry.body) as LoggedEvent });
    }
    return page;
  }

  async getCheckpoint(projector: string): Promise<LogPosition> {
    return this.checkpoints.get(projector) ?? 0;
  }

  async setCheckpoint(projector: string, position: LogPosition): Promise<void> {
    this.checkpoints.set(projector, position);
  }

  async close(): Promise<void> {}
}
