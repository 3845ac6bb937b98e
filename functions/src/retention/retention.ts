import { FINDING_KINDS, INTERACTION_ROW_FIELDS, newEventId, interactionsProjection, riskProjection, type InteractionPageDoc, type LoggedEvent, type RetentionSet, type RiskFindingDoc } from '@km/shared';
import { auditCheckpoint, orgChain, saveAuditCheckpoint, type AuditCheckpoint } from '../audit/org-chain';
import { MEMBERS_MODEL } from '../members/member-directory';
import { ConcurrencyError, type OrgEventArchive, type ReadModelStore } from '../ports';

/** An org's retention and what the last sweep did. */
export interface RetentionDoc {
  kind: 'retention';
  rawEventDays: number | null;
  previewDays: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
  lastSweep: { at: string; eventsRemoved: number; previewsRemoved: number; checkpoint: { seq: number; hash: string } | null } | null;
}

const RETENTION_ID = 'retention';
/** Which orgs have a retention, so the sweep need not know every org; `#` cannot start an org id. */
const REGISTRY = '#retention';
const DAY_MS = 86_400_000;
/** The interactions rows' preview columns (shared/src/projections/interactions ROW_FIELDS, after the envelope index). */
const PREVIEW_COLUMNS = ['requestPreview', 'responsePreview'] as const;
/** A document the projector rewrote meanwhile (cloud: it runs beside the sweep) is read again this many times. */
const REWRITE_ATTEMPTS = 3;

export const NO_RETENTION: RetentionDoc = { kind: 'retention', rawEventDays: null, previewDays: null, updatedAt: null, updatedBy: null, lastSweep: null };

export async function retentionOf(store: ReadModelStore, orgId: string): Promise<RetentionDoc> {
  return (await store.get<RetentionDoc>(MEMBERS_MODEL, orgId, RETENTION_ID))?.doc ?? NO_RETENTION;
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
  const doc: RetentionDoc = { ...(await retentionOf(deps.store, orgId)), ...setting, updatedAt: ts, updatedBy: actor };
  await deps.store.upsert(MEMBERS_MODEL, orgId, RETENTION_ID, doc);
  await deps.store.upsert(MEMBERS_MODEL, REGISTRY, `org-${orgId}`, { kind: 'retention-org', orgId });
  return doc;
}

/**
 * One retention sweep of every org that has one. Raw events: the org's oldest events accepted before the cut-off,
 * as a run from the start of its chain (so that what remains is a chain that starts at a checkpoint), leave the log;
 * the checkpoint (the last removed record's seq and hash) is saved first, so a crash in between only leaves events
 * that the export already passes over. Their interactions pages lose their rows. Previews: the rows of pages
 * accepted before that cut-off lose their previews, and so do the risk findings made before it (each keeps the
 * redacted preview of the message it was found in). Sessions, cost, latency and risk read models are aggregates
 * and stay. `events` is where the raw events are kept and read back by org: the embedded log (read by org), or the
 * cloud's audit archive (Event Hubs itself keeps events for its own retention period only).
 */
export async function sweepRetention(events: OrgEventArchive, store: ReadModelStore, now: Date): Promise<Map<string, RetentionDoc['lastSweep']>> {
  const swept = new Map<string, RetentionDoc['lastSweep']>();
  const orgs = (await store.query<{ orgId: string }>(MEMBERS_MODEL, REGISTRY, { where: { kind: 'retention-org' } })).map((doc) => doc.orgId);
  for (const orgId of orgs) {
    const setting = await retentionOf(store, orgId);
    let eventsRemoved = 0;
    let checkpoint: AuditCheckpoint | null = await auditCheckpoint(store, orgId);
    if (setting.rawEventDays !== null) {
      const cutoff = now.getTime() - setting.rawEventDays * DAY_MS;
      const expired = new Set<string>();
      let last: AuditCheckpoint | null = null;
      for await (const { record, position, event } of orgChain(events, orgId, checkpoint)) {
        if (Date.parse(record.at) >= cutoff) break;
        expired.add(event.id);
        last = { kind: 'audit-checkpoint', seq: record.seq, hash: record.hash, position, at: record.at };
      }
      if (last) {
        await saveAuditCheckpoint(store, orgId, last);
        checkpoint = last;
        eventsRemoved = await events.removeEvents(orgId, expired);
      }
    }
    const pageCut = (days: number | null) => (days === null ? null : new Date(now.getTime() - days * DAY_MS).toISOString());
    const previewsRemoved =
      (await sweepPages(store, orgId, pageCut(setting.rawEventDays), pageCut(setting.previewDays))) + (await sweepFindingPreviews(store, orgId, laterCut(pageCut(setting.rawEventDays), pageCut(setting.previewDays))));
    const lastSweep = { at: now.toISOString(), eventsRemoved, previewsRemoved, checkpoint: checkpoint ? { seq: checkpoint.seq, hash: checkpoint.hash } : null };
    await store.upsert(MEMBERS_MODEL, orgId, RETENTION_ID, { ...(await retentionOf(store, orgId)), lastSweep });
    swept.set(orgId, lastSweep);
  }
  return swept;
}

const laterCut = (a: string | null, b: string | null): string | null => [a, b].filter((value): value is string => value !== null).sort().at(-1) ?? null;

/**
 * A document of the projectors' rewritten by the sweep: read with its ETag and the log positions it folded, which the
 * write keeps (a replay must still find it folded). change returns null to leave it as it is.
 */
async function rewrite<T>(store: ReadModelStore, model: string, orgId: string, id: string, change: (doc: T) => T | null): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const stored = await store.get<T>(model, orgId, id);
    const changed = stored && change(stored.doc);
    if (!stored || !changed) return false;
    try {
      await store.upsert(model, orgId, id, changed, stored.etag, stored.positions);
      return true;
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || attempt >= REWRITE_ATTEMPTS) throw error;
    }
  }
}

/**
 * Findings made before the cut lose their previews (findings of calls only carry one). By the finding's own time:
 * findings do not keep when they were accepted. Every finding before the cut is read, each sweep: one whose event
 * came late, or one a rebuild folded again, is found as well.
 */
async function sweepFindingPreviews(store: ReadModelStore, orgId: string, cut: string | null): Promise<number> {
  if (cut === null) return 0;
  let removed = 0;
  for (const kind of FINDING_KINDS.filter((kind) => kind !== 'anomaly')) {
    const findings = await store.query<RiskFindingDoc>(riskProjection.name, orgId, { where: { kind, detected: true }, orderBy: 'ts', between: { to: cut } });
    for (const finding of findings) {
      if (finding.preview === null) continue;
      if (await rewrite<RiskFindingDoc>(store, riskProjection.name, orgId, finding.id, (doc) => (doc.preview === null ? null : { ...doc, preview: null }))) removed++;
    }
  }
  return removed;
}

/** Interactions pages accepted before rawCut lose their rows, before previewCut their previews; returns previews removed. */
async function sweepPages(store: ReadModelStore, orgId: string, rawCut: string | null, previewCut: string | null): Promise<number> {
  const cut = laterCut(rawCut, previewCut);
  if (!cut) return 0;
  const columns = PREVIEW_COLUMNS.map((field) => 1 + INTERACTION_ROW_FIELDS.indexOf(field));
  const pages = await store.query<InteractionPageDoc>(interactionsProjection.name, orgId, { orderBy: 'receivedAt', between: { to: cut } });
  let removed = 0;
  for (const page of pages) {
    if (!Array.isArray(page.rows)) {
      // A one-interaction document of an older store: its previews are its own fields.
      const old = page as unknown as { requestPreview?: string | null; responsePreview?: string | null; receivedAt: string };
      const cutHere = (rawCut !== null && old.receivedAt < rawCut) || (previewCut !== null && old.receivedAt < previewCut);
      if (cutHere && (old.requestPreview != null || old.responsePreview != null)) {
        removed++;
        await rewrite<typeof old>(store, interactionsProjection.name, orgId, page.id, (doc) => ({ ...doc, requestPreview: null, responsePreview: null }));
      }
      continue;
    }
    if (rawCut !== null && page.receivedAt < rawCut) {
      if (page.rows.length === 0) continue;
      removed += page.rows.filter((row) => columns.some((column) => row[column] != null)).length;
      // The ids of its refused and abandoned rows go with the rows.
      await rewrite<InteractionPageDoc>(store, interactionsProjection.name, orgId, page.id, ({ refused: _refused, abandoned: _abandoned, ...kept }) => ({ ...kept, rows: [] }));
      continue;
    }
    if (previewCut === null || page.receivedAt >= previewCut) continue;
    const withPreviews = page.rows.filter((row) => columns.some((column) => row[column] != null));
    if (withPreviews.length === 0) continue;
    removed += withPreviews.length;
    const withoutPreviews = (rows: InteractionPageDoc['rows']) => rows.map((row) => row.map((value, index) => (columns.includes(index) ? null : value)) as typeof row);
    await rewrite<InteractionPageDoc>(store, interactionsProjection.name, orgId, page.id, (doc) => ({ ...doc, rows: withoutPreviews(doc.rows) }));
  }
  return removed;
}
