import { FINDING_KINDS, INTERACTION_ROW_FIELDS, newEventId, interactionsProjection, riskProjection, type InteractionPageDoc, type LoggedEvent, type RetentionSet, type RiskFindingDoc, interactionPageId, withoutInteractions } from '@km/shared';
import { auditCheckpoint, orgChain, saveAuditCheckpoint, type AuditCheckpoint } from '../audit/org-chain';
import { MEMBERS_MODEL } from '../members/member-directory';
import { BEFORE_FIRST, ConcurrencyError, type LogPosition, type OrgEventArchive, type ReadModelStore } from '../ports';

/** An org's retention and what the last sweep did. */
export interface RetentionDoc {
  kind: 'retention';
  rawEventDays: number | null;
  previewDays: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
  /** waitingForReadModels: the cut stopped at an expired event the read models had not folded yet (the next sweep takes it). */
  lastSweep: { at: string; eventsRemoved: number; previewsRemoved: number; checkpoint: { seq: number; hash: string } | null; waitingForReadModels?: true } | null;
}

const RETENTION_ID = 'retention';
/** Which orgs have a retention, so the sweep need not know every org; `#` cannot start an org id. */
const REGISTRY = '#retention';
const DAY_MS = 86_400_000;
/** The interactions rows' preview columns (shared/src/projections/interactions ROW_FIELDS, after the envelope index). */
const PREVIEW_COLUMNS = ['requestPreview', 'responsePreview'] as const;
/** A document the projector rewrote meanwhile (cloud: it runs beside the sweep) is read again this many times. */
const REWRITE_ATTEMPTS = 3;
/** Events cut at once (checkpoint, rows, log): what a sweep holds in memory, whatever the size of the first cut. */
const CUT_CHUNK = 2000;
/**
 * How long after it was accepted an event may still be folded for the first time, where the sweep cannot ask the
 * projectors (the cloud): Event Hubs keeps an event 7 days (infra/bicep/modules/eventhubs.bicep), so none older
 * reaches a projector.
 */
const LATE_FOLD_MS = 7 * DAY_MS;

/**
 * What the last preview sweep of an org left clear, kept in the read model it swept (under REGISTRY, apart from
 * the org's own documents): nothing of what was folded by then and was accepted (pages) or made (findings) before
 * `cut` holds a preview, and whatever is folded after it was accepted at or after `horizon`. The next sweep reads
 * only what is newer than both, not every old page and finding each hour (over a month of 1M events that read 3.6 s
 * with the projector paused, and grew with the history kept). A rebuild, which drops the model's documents, drops
 * it too: the next sweep reads everything again.
 */
interface PreviewWatermark {
  kind: 'preview-watermark';
  cut: string;
  horizon: string;
}

export const NO_RETENTION: RetentionDoc = { kind: 'retention', rawEventDays: null, previewDays: null, updatedAt: null, updatedBy: null, lastSweep: null };

export async function retentionOf(store: ReadModelStore, orgId: string): Promise<RetentionDoc> {
  return (await store.get<RetentionDoc>(MEMBERS_MODEL, orgId, RETENTION_ID))?.doc ?? NO_RETENTION;
}

/**
 * Changes the org's retention document under its ETag (rewriteDoc): a PUT and a sweep's lastSweep each keep what the
 * other wrote meanwhile (a sweep wrote back the setting it had read, undoing a PUT).
 */
async function changeRetention(store: ReadModelStore, orgId: string, change: (current: RetentionDoc) => RetentionDoc): Promise<RetentionDoc> {
  return (await rewriteDoc<RetentionDoc>(store, MEMBERS_MODEL, orgId, RETENTION_ID, (current) => change(current ?? NO_RETENTION)))!;
}

/** Sets an org's retention: a `retention.set` event, then the setting the sweep reads. */
export async function setRetention(
  deps: { store: ReadModelStore; append: (events: LoggedEvent[]) => Promise<void>; now: () => Date; newBatchId: () => string },
  orgId: string,
  setting: { rawEventDays: number | null; previewDays: number | null },
  actor: string,
): Promise<RetentionDoc> {
  const ts = deps.now().toISOString();
  const event: RetentionSet = { id: newEventId(deps.now().getTime()), v: 1, type: 'retention.set', ts, orgId, ...setting, actor };
  await deps.append([{ ...event, receivedAt: ts, batchId: deps.newBatchId() }]);
  const doc = await changeRetention(deps.store, orgId, (current) => ({ ...current, ...setting, updatedAt: ts, updatedBy: actor }));
  await deps.store.upsert(MEMBERS_MODEL, REGISTRY, `org-${orgId}`, { kind: 'retention-org', orgId });
  return doc;
}

export interface SweepOptions {
  /**
   * Where the raw events are also what the projectors read (the embedded log): the last position every consumer of
   * the log has folded. The cut stops there, so no event leaves the log before the read models have it.
   */
  foldedUpTo?: () => Promise<LogPosition>;
  /**
   * When the oldest event not yet folded by every consumer was accepted, null when all are folded (the embedded log:
   * the sweep runs with its projector paused). Without it, an event may be folded up to LATE_FOLD_MS after it came.
   */
  unfoldedSince?: () => Promise<string | null>;
}

/**
 * One retention sweep of every org that has one. Raw events: the org's oldest events accepted before the cut-off,
 * as a run from the start of its chain (so that what remains is a chain that starts at a checkpoint), leave the log,
 * a chunk at a time: the chunk's checkpoint (its last record's seq and hash) is saved first, then its events' rows
 * leave their interactions pages, then the events leave the log. A sweep that stops in between leaves events at or
 * before the checkpoint, which the export already passes over and the next sweep removes. Previews: the rows of pages
 * accepted before that cut-off lose their previews, and so do the risk findings made before it (each keeps the
 * redacted preview of the message it was found in). Sessions, cost, latency and risk read models are aggregates
 * and stay. `events` is where the raw events are kept and read back by org: the embedded log (read by org), or the
 * cloud's audit archive (Event Hubs itself keeps events for its own retention period only).
 */
export async function sweepRetention(events: OrgEventArchive, store: ReadModelStore, now: Date, options: SweepOptions = {}): Promise<Map<string, RetentionDoc['lastSweep']>> {
  const swept = new Map<string, RetentionDoc['lastSweep']>();
  const folded = options.foldedUpTo ? await options.foldedUpTo() : Infinity;
  // Asked before any read: what is folded from now on was accepted at or after it.
  const horizon = options.unfoldedSince ? ((await options.unfoldedSince()) ?? now.toISOString()) : new Date(now.getTime() - LATE_FOLD_MS).toISOString();
  const orgs = (await store.query<{ orgId: string }>(MEMBERS_MODEL, REGISTRY, { where: { kind: 'retention-org' } })).map((doc) => doc.orgId);
  for (const orgId of orgs) {
    const setting = await retentionOf(store, orgId);
    const removed = { events: 0, previews: 0 };
    let waiting = false;
    const removeChunk = async (chunk: readonly LoggedEvent[]) => {
      removed.previews += await removePageRows(store, orgId, chunk);
      removed.events += await events.removeEvents(orgId, new Set(chunk.map((event) => event.id)));
    };
    let checkpoint: AuditCheckpoint | null = await auditCheckpoint(store, orgId);
    // The last sweep ended with the checkpoint it saved (lastSweep is written last): else it stopped after saving one,
    // whatever the setting is now, and the events it passed over are still to go.
    if (checkpoint && setting.lastSweep?.checkpoint?.seq !== checkpoint.seq) {
      for await (const chunk of heldUpTo(events, orgId, checkpoint)) await removeChunk(chunk);
    }
    if (setting.rawEventDays !== null) {
      const cutoff = now.getTime() - setting.rawEventDays * DAY_MS;
      let chunk: LoggedEvent[] = [];
      let last: AuditCheckpoint | null = null;
      waiting = false;
      const cut = async () => {
        await saveAuditCheckpoint(store, orgId, last!);
        checkpoint = last;
        await removeChunk(chunk);
        chunk = [];
      };
      for await (const { record, position, event } of orgChain(events, orgId, checkpoint)) {
        if (Date.parse(record.at) >= cutoff) break;
        // Expired but not yet folded (km serve starting on a backlog, a projector that keeps failing): the next sweep.
        if (position > folded) {
          waiting = true;
          break;
        }
        chunk.push(event);
        last = { kind: 'audit-checkpoint', seq: record.seq, hash: record.hash, position, at: record.at };
        if (chunk.length >= CUT_CHUNK) await cut();
      }
      if (chunk.length > 0) await cut();
    }
    const pageCut = (days: number | null) => (days === null ? null : new Date(now.getTime() - days * DAY_MS).toISOString());
    const previewCut = laterCut(pageCut(setting.rawEventDays), pageCut(setting.previewDays));
    removed.previews += (await sweepPagePreviews(store, orgId, previewCut, horizon)) + (await sweepFindingPreviews(store, orgId, previewCut, horizon));
    const saved = checkpoint as AuditCheckpoint | null;
    const lastSweep: RetentionDoc['lastSweep'] = {
      at: now.toISOString(),
      eventsRemoved: removed.events,
      previewsRemoved: removed.previews,
      checkpoint: saved ? { seq: saved.seq, hash: saved.hash } : null,
      ...(waiting ? { waitingForReadModels: true as const } : {}),
    };
    await changeRetention(store, orgId, (current) => ({ ...current, lastSweep }));
    swept.set(orgId, lastSweep);
  }
  return swept;
}

const laterCut = (a: string | null, b: string | null): string | null => [a, b].filter((value): value is string => value !== null).sort().at(-1) ?? null;

/**
 * A document read with its ETag and the log positions it folded, changed, and written under that ETag with those
 * positions (a replay must still find a projector's document folded); read again when another writer came first.
 * change gets null for a document not there, and returns null to leave it as it is. Returns what was written.
 */
async function rewriteDoc<T>(store: ReadModelStore, model: string, orgId: string, id: string, change: (doc: T | null) => T | null): Promise<T | null> {
  for (let attempt = 1; ; attempt++) {
    const stored = await store.get<T>(model, orgId, id);
    const changed = change(stored?.doc ?? null);
    if (!changed) return null;
    try {
      await store.upsert(model, orgId, id, changed, stored?.etag ?? null, stored?.positions);
      return changed;
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || attempt >= REWRITE_ATTEMPTS) throw error;
    }
  }
}

/** A projector's document rewritten by the sweep (rewriteDoc); one not there is left so. True when it changed. */
async function rewrite<T>(store: ReadModelStore, model: string, orgId: string, id: string, change: (doc: T) => T | null): Promise<boolean> {
  return (await rewriteDoc<T>(store, model, orgId, id, (doc) => (doc === null ? null : change(doc)))) !== null;
}

const watermarkId = (orgId: string) => `org-${orgId}`;

async function watermarkOf(store: ReadModelStore, model: string, orgId: string): Promise<PreviewWatermark | null> {
  return (await store.get<PreviewWatermark>(model, REGISTRY, watermarkId(orgId)))?.doc ?? null;
}

const saveWatermark = (store: ReadModelStore, model: string, orgId: string, cut: string, horizon: string) =>
  store.upsert<PreviewWatermark>(model, REGISTRY, watermarkId(orgId), { kind: 'preview-watermark', cut, horizon });

/**
 * Findings made before the cut lose their previews (findings of calls only carry one). By the finding's own time:
 * findings do not keep when they were accepted. Read since the last sweep (PreviewWatermark): those made since its
 * cut, and those folded since, by when their call was accepted (receivedAt), however old (a call that came late).
 */
async function sweepFindingPreviews(store: ReadModelStore, orgId: string, cut: string | null, horizon: string): Promise<number> {
  if (cut === null) return 0;
  const mark = await watermarkOf(store, riskProjection.name, orgId);
  let removed = 0;
  for (const kind of FINDING_KINDS.filter((kind) => kind !== 'anomaly')) {
    const where = { kind, detected: true };
    const made = await store.query<RiskFindingDoc>(riskProjection.name, orgId, { where, orderBy: 'ts', between: { ...(mark ? { from: mark.cut } : {}), to: cut } });
    const late = mark ? await store.query<RiskFindingDoc>(riskProjection.name, orgId, { where, orderBy: 'receivedAt', between: { from: mark.horizon } }) : [];
    for (const finding of [...made, ...late]) {
      if (finding.preview === null || finding.ts > cut) continue;
      // A finding read by both queries is rewritten once: the second finds no preview left.
      if (await rewrite<RiskFindingDoc>(store, riskProjection.name, orgId, finding.id, (doc) => (doc.preview === null ? null : { ...doc, preview: null }))) removed++;
    }
  }
  await saveWatermark(store, riskProjection.name, orgId, cut, horizon);
  return removed;
}

/** The org's events the archive still holds at or before the checkpoint's position, oldest first, a page at a time. */
async function* heldUpTo(events: OrgEventArchive, orgId: string, checkpoint: AuditCheckpoint): AsyncGenerator<LoggedEvent[]> {
  for (let after = BEFORE_FIRST; ; ) {
    const page = await events.readOrg(orgId, after, CUT_CHUNK);
    const held = page.filter((entry) => entry.position <= checkpoint.position && entry.event.orgId === orgId).map((entry) => entry.event);
    if (held.length > 0) yield held;
    const lastPosition = page.at(-1)?.position;
    if (page.length < CUT_CHUNK || lastPosition === undefined || lastPosition >= checkpoint.position) return;
    after = lastPosition;
  }
}

/**
 * The rows of these events leave their interactions pages, found by the events themselves (the page an event went
 * to is named by the event), not by when pages were accepted: a page whose events stay in the log (the chain is cut only as
 * a run from its start, and a clock stepped back puts an older receivedAt after a newer one) keeps its rows, and a
 * rebuild folds the same rows back. Returns the rows removed that had a preview.
 */
async function removePageRows(store: ReadModelStore, orgId: string, expired: readonly LoggedEvent[]): Promise<number> {
  const byPage = new Map<string, Set<string>>();
  for (const event of expired) {
    if (event.type !== 'mcp.interaction') continue;
    const pageId = interactionPageId(event);
    let ids = byPage.get(pageId);
    if (!ids) byPage.set(pageId, (ids = new Set()));
    ids.add(event.id);
  }
  let removed = 0;
  for (const [pageId, ids] of byPage) {
    // Counted from the version written: a rewrite that met another writer reads the page again.
    let previews = 0;
    const changed = await rewrite<InteractionPageDoc>(store, interactionsProjection.name, orgId, pageId, (page) => {
      if (!Array.isArray(page.rows)) return null;
      previews = page.rows.filter((row) => ids.has(row[1] as string) && hasPreview(row)).length;
      return withoutInteractions(page, ids);
    });
    if (changed) removed += previews;
  }
  return removed;
}

const PREVIEW_INDEXES = PREVIEW_COLUMNS.map((field) => 1 + INTERACTION_ROW_FIELDS.indexOf(field));
const hasPreview = (row: InteractionPageDoc['rows'][number]) => PREVIEW_INDEXES.some((index) => row[index] != null);

/**
 * Interactions pages accepted before the cut lose their previews; returns the previews removed. Read since the last
 * sweep (PreviewWatermark): a page is accepted once, so those accepted since the earlier of its cut and its horizon.
 */
async function sweepPagePreviews(store: ReadModelStore, orgId: string, cut: string | null, horizon: string): Promise<number> {
  if (!cut) return 0;
  const mark = await watermarkOf(store, interactionsProjection.name, orgId);
  const from = mark ? (mark.cut < mark.horizon ? mark.cut : mark.horizon) : null;
  const pages = await store.query<InteractionPageDoc>(interactionsProjection.name, orgId, { orderBy: 'receivedAt', between: { ...(from ? { from } : {}), to: cut } });
  let removed = 0;
  for (const page of pages) {
    if (!Array.isArray(page.rows)) {
      // A one-interaction document of an older store: its previews are its own fields.
      const old = page as unknown as { requestPreview?: string | null; responsePreview?: string | null; receivedAt: string };
      if (old.receivedAt < cut && (old.requestPreview != null || old.responsePreview != null)) {
        removed++;
        await rewrite<typeof old>(store, interactionsProjection.name, orgId, page.id, (doc) => ({ ...doc, requestPreview: null, responsePreview: null }));
      }
      continue;
    }
    if (page.receivedAt >= cut) continue;
    const withPreviews = page.rows.filter(hasPreview).length;
    if (withPreviews === 0) continue;
    removed += withPreviews;
    const withoutPreviews = (rows: InteractionPageDoc['rows']) => rows.map((row) => row.map((value, index) => (PREVIEW_INDEXES.includes(index) ? null : value)) as typeof row);
    await rewrite<InteractionPageDoc>(store, interactionsProjection.name, orgId, page.id, (doc) => ({ ...doc, rows: withoutPreviews(doc.rows) }));
  }
  await saveWatermark(store, interactionsProjection.name, orgId, cut, horizon);
  return removed;
}
