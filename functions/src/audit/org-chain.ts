import type { LoggedEvent } from '@km/shared';
import { BEFORE_FIRST, type LogPosition, type OrgEventArchive, type ReadModelStore } from '../ports';
import { MEMBERS_MODEL } from '../members/member-directory';
import { chainRecord, genesisHash, type AuditRecord } from './audit-chain';

/** An org's events read at once while its chain is walked: memory stays bounded whatever the log's size. */
const PAGE = 2000;

/**
 * Where an org's chain goes on after a retention cut: the last record removed (its seq and hash, and its log
 * position, so the events at or before it are passed over even when a crash left some behind).
 */
export interface AuditCheckpoint {
  kind: 'audit-checkpoint';
  seq: number;
  hash: string;
  position: LogPosition;
  /** When the last removed event was accepted. */
  at: string;
}

const CHECKPOINT_ID = 'audit-checkpoint';

export async function auditCheckpoint(store: ReadModelStore, orgId: string): Promise<AuditCheckpoint | null> {
  return (await store.get<AuditCheckpoint>(MEMBERS_MODEL, orgId, CHECKPOINT_ID))?.doc ?? null;
}

export async function saveAuditCheckpoint(store: ReadModelStore, orgId: string, checkpoint: AuditCheckpoint): Promise<void> {
  await store.upsert(MEMBERS_MODEL, orgId, CHECKPOINT_ID, checkpoint);
}

/**
 * The org's audit chain, record by record with its log position: from its first event, or on from the checkpoint
 * a retention cut left. The one place the chain is made, for the export and for the cut, on either host: the
 * events come from the embedded log read by org, or from the cloud's audit archive, in the same order.
 */
export async function* orgChain(events: OrgEventArchive, orgId: string, checkpoint: AuditCheckpoint | null): AsyncGenerator<{ record: AuditRecord; position: LogPosition; event: LoggedEvent }> {
  let prevHash = checkpoint?.hash ?? genesisHash(orgId);
  let seq = checkpoint?.seq ?? 0;
  for (let after = checkpoint?.position ?? BEFORE_FIRST; ; ) {
    const page = await events.readOrg(orgId, after, PAGE);
    if (page.length === 0) return;
    after = page[page.length - 1]!.position;
    for (const { position, event } of page) {
      // Defence in depth: an archive answers for one org, and the chain is that org's only.
      if (event.orgId !== orgId) continue;
      const record = chainRecord(++seq, event, prevHash);
      prevHash = record.hash;
      yield { record, position, event };
    }
  }
}
