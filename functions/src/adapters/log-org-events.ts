import type { LoggedEvent } from '@km/shared';
import type { EventLog, LogPosition, OrgEventArchive, RetainingLog } from '../ports';

/** Log entries read at once while one org's are picked out: memory stays bounded whatever the log's size. */
const SCAN_PAGE = 2000;

/**
 * The embedded logs (SQLite, memory) as an OrgEventArchive: they hold every org's events in one sequence, so an
 * org's are their read filtered by org, and retention is their own removeEvents.
 */
export function orgEventsOfLog(log: EventLog & RetainingLog): OrgEventArchive {
  return {
    async readOrg(orgId, after, max) {
      const picked: Array<{ position: LogPosition; event: LoggedEvent }> = [];
      for (let from = after; picked.length < max; ) {
        const page = await log.read(from, SCAN_PAGE);
        if (page.length === 0) break;
        for (const entry of page) {
          if (entry.event.orgId !== orgId) continue;
          picked.push(entry);
          if (picked.length === max) break;
        }
        from = page[page.length - 1]!.position;
      }
      return picked;
    },
    removeEvents: (orgId, ids) => log.removeEvents(orgId, ids),
  };
}
