import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { LoggedEvent } from '@km/shared';
import type { PositionedEvent } from '../projector';
import { BEFORE_FIRST, ConcurrencyError, type LogPosition, type OrgEventArchive, type ReadModelStore } from '../ports';

/** The Cosmos container (store model) of the archive; partition key /orgId like every other. */
export const AUDIT_ARCHIVE_MODEL = 'auditArchive';
/** Its one query shape: an org's pages by the last sequence number they hold (infra/bicep declares the same index). */
export const AUDIT_ARCHIVE_INDEXES: ReadonlyArray<{ model: string; fields: string[] }> = [{ model: AUDIT_ARCHIVE_MODEL, fields: ['last'] }];

/**
 * A page closes at this many events or this much JSON, whichever comes first. Cosmos items hold 2 MB: a page of
 * 1 MB of JSON that does not compress at all is 1.4 MB as base64, and an event alone is at most 1 MB (an Event Hubs
 * message), so a page can always take one more event when it is empty.
 */
const PAGE_EVENTS = 1000;
const PAGE_JSON_BYTES = 1024 * 1024;
/** As in the embedded log: km's events compress about 12x at level 3 for a few microseconds each. */
const DEFLATE_LEVEL = 3;
/** Orgs of one trigger batch archived at once. */
const ORGS_AT_ONCE = 8;
/** Pages asked for at once while reading an org's events in order. */
const PAGES_READ = 3;
/** Another writer is only another instance of this trigger (a lease moving) or a retention sweep: a few re-reads settle it. */
const MAX_ATTEMPTS = 5;

/**
 * One page of an org's archived events: a run of them in sequence-number order. `last` stays when retention empties
 * the org's last page: it is the high-water mark a redelivered batch is checked against.
 */
interface ArchivePage {
  kind: 'audit-archive-page';
  page: number;
  /** The Event Hubs partition the events came from (one per org: the partition key is the orgId). */
  partition: string;
  first: LogPosition;
  last: LogPosition;
  /** Each event's sequence number, in order. */
  seqs: LogPosition[];
  jsonBytes: number;
  /** The events as one JSON array, deflated, base64. */
  body: string;
}

interface OpenPage {
  page: ArchivePage;
  events: LoggedEvent[];
  etag: string | null;
  changed: boolean;
}

const pageId = (page: number) => `page-${String(page).padStart(12, '0')}`;
const encode = (events: readonly LoggedEvent[]) => deflateRawSync(JSON.stringify(events), { level: DEFLATE_LEVEL }).toString('base64');

function decode(page: ArchivePage): LoggedEvent[] {
  const events = JSON.parse(inflateRawSync(Buffer.from(page.body, 'base64')).toString('utf8')) as LoggedEvent[];
  if (!Array.isArray(events) || events.length !== page.seqs.length) throw new Error(`audit archive page ${page.page} holds ${Array.isArray(events) ? events.length : 'no'} events, expected ${page.seqs.length}: it is damaged`);
  return events;
}

/**
 * The cloud's copy of every org's raw events, for the audit chain and retention: Event Hubs cannot be read back per
 * org, so the audit-archive trigger (its own consumer group) writes each batch here, in pages of many events per
 * document, one ETag write per page a batch touches. Idempotent: events at or below the sequence number the org's
 * last page holds are a redelivery and are skipped (a client's retry appended again is dropped before, by
 * firstSightings). Built on the ReadModelStore port (Cosmos DB in Azure), so the tenant is the partition of every call.
 */
export class StoreOrgEventArchive implements OrgEventArchive {
  private readonly pageEvents: number;

  /** options.pageEvents: smaller pages, for tests that need several (default 1,000). */
  constructor(
    private readonly store: ReadModelStore,
    options: { pageEvents?: number } = {},
  ) {
    this.pageEvents = options.pageEvents ?? PAGE_EVENTS;
  }

  /** Archives a trigger batch; returns how many events were new. */
  async archive(entries: readonly PositionedEvent[]): Promise<number> {
    const byOrg = new Map<string, PositionedEvent[]>();
    for (const entry of entries) {
      if (entry.position === null) continue;
      const group = byOrg.get(entry.event.orgId);
      if (group) group.push(entry);
      else byOrg.set(entry.event.orgId, [entry]);
    }
    // A few orgs at once: enough to hide the round trips, few enough not to be throttled.
    const orgs = [...byOrg];
    let archived = 0;
    const worker = async () => {
      for (let next = orgs.shift(); next; next = orgs.shift()) {
        const count = await this.archiveOrg(next[0], next[1]);
        archived += count; // after the await: `archived += await ...` would add to a stale total
      }
    };
    await Promise.all(Array.from({ length: Math.min(ORGS_AT_ONCE, orgs.length) }, worker));
    return archived;
  }

  async readOrg(orgId: string, after: LogPosition, max: number): Promise<Array<{ position: LogPosition; event: LoggedEvent }>> {
    const read: Array<{ position: LogPosition; event: LoggedEvent }> = [];
    for (let from = after; read.length < max; ) {
      const pages = await this.store.query<ArchivePage>(AUDIT_ARCHIVE_MODEL, orgId, { orderBy: 'last', between: { from: from + 1 }, limit: PAGES_READ });
      if (pages.length === 0) break;
      for (const page of pages) {
        const events = decode(page);
        for (let i = 0; i < events.length && read.length < max; i++) if (page.seqs[i]! > after) read.push({ position: page.seqs[i]!, event: events[i]! });
        from = page.last;
        if (read.length === max) break;
      }
    }
    return read;
  }

  /**
   * Retention: the pages holding these events lose them, oldest page first, until every one is found (the sweep
   * cuts a run from the start of the org's chain, so that is its first pages). A page left empty is deleted, but the
   * org's last page is kept, empty, for its high-water mark.
   */
  async removeEvents(orgId: string, ids: ReadonlySet<string>): Promise<number> {
    if (ids.size === 0) return 0;
    const lastId = (await this.lastPage(orgId))?.id;
    let removed = 0;
    for (let after = BEFORE_FIRST; removed < ids.size; ) {
      const pages = await this.store.query<ArchivePage>(AUDIT_ARCHIVE_MODEL, orgId, { orderBy: 'last', between: { from: after + 1 }, limit: PAGES_READ });
      if (pages.length === 0) break;
      for (const { page, last } of pages) {
        removed += await this.removeFromPage(orgId, pageId(page), pageId(page) === lastId, ids);
        after = last;
        if (removed >= ids.size) break;
      }
    }
    return removed;
  }

  private async removeFromPage(orgId: string, id: string, isLast: boolean, ids: ReadonlySet<string>): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.store.get<ArchivePage>(AUDIT_ARCHIVE_MODEL, orgId, id);
      if (!stored) return 0;
      const events = decode(stored.doc);
      const keep = events.map((event, i) => ({ event, seq: stored.doc.seqs[i]! })).filter(({ event }) => !ids.has(event.id));
      if (keep.length === events.length) return 0;
      try {
        if (keep.length === 0 && !isLast) await this.store.remove!(AUDIT_ARCHIVE_MODEL, orgId, id, stored.etag);
        else {
          const kept = keep.map(({ event }) => event);
          const page: ArchivePage = { ...stored.doc, first: keep[0]?.seq ?? stored.doc.first, seqs: keep.map(({ seq }) => seq), jsonBytes: Buffer.byteLength(JSON.stringify(kept)), body: encode(kept) };
          await this.store.upsert(AUDIT_ARCHIVE_MODEL, orgId, id, page, stored.etag);
        }
        return events.length - keep.length;
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private async lastPage(orgId: string): Promise<{ id: string; page: ArchivePage } | null> {
    const [last] = await this.store.query<ArchivePage>(AUDIT_ARCHIVE_MODEL, orgId, { orderBy: 'last', direction: 'desc', limit: 1 });
    return last ? { id: pageId(last.page), page: last } : null;
  }

  /**
   * The org's new events onto its last page and the pages after it, written in page order: should a write fail
   * midway, every page written holds events older than any not yet written, so the redelivery that follows skips
   * exactly what is in.
   */
  private async archiveOrg(orgId: string, entries: PositionedEvent[]): Promise<number> {
    const sorted = [...entries].sort((a, b) => a.position! - b.position!);
    for (let attempt = 1; ; attempt++) {
      const last = await this.lastPage(orgId);
      const stored = last ? await this.store.get<ArchivePage>(AUDIT_ARCHIVE_MODEL, orgId, last.id) : null;
      let highWater = stored?.doc.last ?? BEFORE_FIRST;
      const fresh = sorted.filter((entry) => {
        if (entry.position! <= highWater) return false;
        highWater = entry.position!;
        return true;
      });
      if (fresh.length === 0) return 0;
      const pages: OpenPage[] = [];
      let open: OpenPage | null = stored ? { page: stored.doc, events: decode(stored.doc), etag: stored.etag, changed: false } : null;
      for (const { event, partition, position } of fresh) {
        const bytes = Buffer.byteLength(JSON.stringify(event)) + 1;
        if (!open || (open.events.length > 0 && (open.events.length >= this.pageEvents || open.page.jsonBytes + bytes > PAGE_JSON_BYTES))) {
          if (open?.changed) pages.push(open);
          const page = (open?.page.page ?? 0) + 1;
          open = { page: { kind: 'audit-archive-page', page, partition, first: position!, last: position!, seqs: [], jsonBytes: 1, body: '' }, events: [], etag: null, changed: false };
        }
        open.events.push(event);
        open.page = { ...open.page, first: open.page.seqs.length === 0 ? position! : open.page.first, last: position!, seqs: [...open.page.seqs, position!], jsonBytes: open.page.jsonBytes + bytes };
        open.changed = true;
      }
      if (open?.changed) pages.push(open);
      try {
        for (const { page, events, etag } of pages) await this.store.upsert(AUDIT_ARCHIVE_MODEL, orgId, pageId(page.page), { ...page, body: encode(events) }, etag);
        return fresh.length;
      } catch (error) {
        // Another instance (or the sweep) wrote first: what it wrote is re-read and skipped.
        if (!(error instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }
}
