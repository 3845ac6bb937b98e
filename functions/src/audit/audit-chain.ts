import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { LoggedEvent } from '@km/shared';

/**
 * One record of an org's audit trail: an event of its log, in log order, chained to the record before by hash, so
 * that a record changed, dropped, added or moved breaks every hash after it. `event` is the logged event as the log
 * holds it, except that previews (what a call sent and got) appear as the keys and value kinds of what was sent.
 */
export interface AuditRecord {
  seq: number;
  /** When the server accepted the event (receivedAt). */
  at: string;
  type: string;
  event: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** The last line of an export: how many records the chain has and its head, signed by the server's audit key. */
export interface AuditHead {
  head: true;
  orgId: string;
  /** The seq of the last record of the whole chain (the export may be a window of it). */
  count: number;
  hash: string;
  signedAt: string;
  /** Where the chain starts after a retention cut (null: at the org's first event); signed, so none can be slipped in. */
  checkpoint: { seq: number; hash: string } | null;
  /**
   * What this export holds, signed, so that records cut off its start or end are seen (a window asked with
   * from/to looks the same as a cut file otherwise). Absent from heads signed before it existed.
   */
  range?: AuditRange;
  /**
   * Ed25519 public key (SPKI, base64) and signature (base64) over the head's other fields. Anyone can sign with a
   * key of their own: the key proves nothing until it is checked against one the reader trusts (`km audit verify`).
   */
  publicKey: string;
  signature: string;
}

/** The records an export holds, as its head signs them. */
export interface AuditRange {
  /** The window asked (ISO; null: not bounded). */
  from: string | null;
  to: string | null;
  /** The first and last record written out and the hash of the last; all null when the window held none. */
  firstSeq: number | null;
  lastSeq: number | null;
  lastHash: string | null;
}

/** The fields of a head its signature covers. */
export type SignedHeadFields = Omit<AuditHead, 'signature' | 'publicKey' | 'head'>;

/** Where every org's chain starts: a value of its own, so two orgs' chains never share a hash. */
export const genesisHash = (orgId: string) => sha256(`km-audit-genesis:${orgId}`);

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** JSON with keys in sorted order at every depth: the same record always hashes the same, whoever wrote it. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value as object)
    .sort()
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}

/** The hash of a record: of the one before's and of everything in this one but its own hash. */
export function recordHash(record: Omit<AuditRecord, 'hash'>): string {
  return sha256(`${record.prevHash}\n${canonicalJson({ seq: record.seq, at: record.at, type: record.type, event: record.event })}`);
}

/** The next record of a chain whose last hash is prevHash. */
export function chainRecord(seq: number, event: LoggedEvent, prevHash: string): AuditRecord {
  const unhashed = { seq, at: event.receivedAt, type: event.type, event: auditedEvent(event), prevHash };
  return { ...unhashed, hash: recordHash(unhashed) };
}

/** The event as the trail shows it: previews become the argument keys and their value kinds. */
function auditedEvent(event: LoggedEvent): Record<string, unknown> {
  if (event.type !== 'mcp.interaction') return { ...event };
  const { requestPreview, responsePreview: _response, ...rest } = event;
  return { ...rest, arguments: argumentShape(requestPreview) };
}

const kindOf = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/** {"path": "string", "limit": "number"} of a preview that is a JSON object; null for none, or one cut too short to read. */
function argumentShape(preview: string | null): Record<string, string> | null {
  if (preview === null) return null;
  try {
    const parsed = JSON.parse(preview) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    const shape: Record<string, string> = Object.create(null);
    for (const [key, value] of Object.entries(parsed)) shape[key] = kindOf(value);
    return shape;
  } catch {
    return null;
  }
}

/** The server's audit signing key: made once (Ed25519), kept as PKCS8 PEM. */
export interface AuditSigner {
  /** SPKI DER, base64. */
  publicKey: string;
  /** A head is always signed with the range of the export it ends. */
  sign(head: SignedHeadFields & { range: AuditRange }): string;
}

export function newAuditKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function auditSigner(privateKeyPem: string): AuditSigner {
  const privateKey: KeyObject = createPrivateKey(privateKeyPem);
  const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
  return { publicKey, sign: (head) => sign(null, Buffer.from(signedText(head)), privateKey).toString('base64') };
}

/**
 * What a head's signature covers. A head with a range signs a tagged canonical JSON of all its fields, so neither a
 * field added nor one taken away (a range stripped to pass for an older head) leaves the signature holding; heads
 * signed before ranges existed signed the `|`-joined text below, which verify still reads.
 */
const signedText = (head: SignedHeadFields) =>
  head.range !== undefined
    ? `km-audit-head/2\n${canonicalJson({ orgId: head.orgId, count: head.count, hash: head.hash, signedAt: head.signedAt, checkpoint: head.checkpoint, range: head.range })}`
    : `${head.orgId}|${head.count}|${head.hash}|${head.signedAt}|${head.checkpoint ? `${head.checkpoint.seq}:${head.checkpoint.hash}` : 'genesis'}`;

/** The Ed25519 public key of a head (SPKI DER, base64), or null when it is not one. */
export function auditPublicKey(spkiBase64: string): KeyObject | null {
  try {
    const key = createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : null;
  } catch {
    return null;
  }
}

/** How a key is named to people: `SHA256:` and the base64 of the sha256 of its SPKI DER, as ssh names keys. */
export function auditKeyFingerprint(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

/** A key as km shows it (GET /api/audit/key, km audit key): its fingerprint and its PEM (SPKI). */
export const auditKeyShown = (key: KeyObject): { fingerprint: string; pem: string } => ({ fingerprint: auditKeyFingerprint(key), pem: key.export({ type: 'spki', format: 'pem' }).toString() });

export function headSignatureHolds(head: AuditHead): boolean {
  try {
    const key = auditPublicKey(head.publicKey);
    if (!key) return false;
    return verify(null, Buffer.from(signedText(head)), key, Buffer.from(head.signature, 'base64'));
  } catch {
    return false;
  }
}

export type VerifyOutcome =
  | {
      ok: true;
      records: number;
      firstSeq: number | null;
      lastSeq: number | null;
      head: AuditHead;
      checkpointSeq: number | null;
      /** The range the head signs, which the records were found to be exactly; null: a head from before ranges, so nothing proves no records were cut from the export's start or end. */
      range: AuditRange | null;
      /** Why the pinned record could not be checked (it lies outside the export); null when it was, or none was given. */
      pinnedUnchecked: string | null;
    }
  | { ok: false; line: number; seq: number | null; problem: string };

/**
 * Checks an ndjson export line by line: each record's hash, each link to the record before, seqs that follow one
 * another, and the signed head that ends it (its count and hash those of the last record when the export reaches
 * the end of the chain, its range exactly the records there are). `pinned`: a head published before (seq and hash):
 * the export must hold it unchanged. The signature is checked against the key the head carries: whether that key
 * is one to trust is the caller's to decide (a forger signs with a key of their own).
 */
export async function verifyExport(lines: AsyncIterable<string> | Iterable<string>, orgIdExpected?: string, pinned?: { seq: number; hash: string }): Promise<VerifyOutcome> {
  let previous: AuditRecord | null = null;
  let first: number | null = null;
  let count = 0;
  let head: AuditHead | null = null;
  let pinnedSeen = false;
  let genesisSeen: string | null = null;
  /** The seq of a retention checkpoint the export starts from. */
  let cutAt: number | null = null;
  let cutFrom: string | null = null;
  /** The first record after a checkpoint is not the one right after it: an export of a window, if its head says so. */
  let gapAfterCut: { line: number; seq: number; after: number } | null = null;
  let lineNo = 0;
  // Line by line, so an export of any size is checked in constant memory.
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    const fail = (problem: string, seq: number | null = null): VerifyOutcome => ({ ok: false, line: lineNo, seq, problem });
    if (head) return fail('a line after the signed head');
    let parsed: AuditRecord | AuditHead;
    try {
      parsed = JSON.parse(line) as AuditRecord | AuditHead;
    } catch {
      return fail('not JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('not an audit line (an object)');
    // Each line exactly as the export wrote it: a key given twice, 1e999 (read as Infinity, hashed as null) or
    // anything else a reader could take two ways would otherwise pass under a hash of what JSON.parse kept.
    if (JSON.stringify(parsed) !== line.trim()) return fail('not as km writes it: a key given twice, a number out of range, or spacing changed');
    if ((parsed as { checkpoint?: unknown }).checkpoint === true) {
      // A retention cut removed the records before: the chain goes on from the last one removed.
      const checkpoint = parsed as unknown as { seq: number; hash: string; orgId: string };
      if (previous || count > 0) return fail('a checkpoint after records: it can only start an export');
      if (orgIdExpected && checkpoint.orgId !== orgIdExpected) return fail(`the checkpoint is of org "${checkpoint.orgId}", not "${orgIdExpected}"`);
      previous = { seq: checkpoint.seq, hash: checkpoint.hash } as AuditRecord;
      cutAt = checkpoint.seq;
      cutFrom = `${checkpoint.seq}:${checkpoint.hash}`;
      continue;
    }
    if ('head' in parsed) {
      const signed = parsed as unknown as AuditHead;
      head = signed;
      if (!headSignatureHolds(signed)) return fail('the head signature does not hold');
      if (orgIdExpected && signed.orgId !== orgIdExpected) return fail(`the head is of org "${signed.orgId}", not "${orgIdExpected}"`);
      if (genesisSeen !== null && genesisSeen !== genesisHash(signed.orgId)) return fail(`record 1 does not start the chain of org "${signed.orgId}"`, 1);
      const signedCut = signed.checkpoint ? `${signed.checkpoint.seq}:${signed.checkpoint.hash}` : null;
      if (cutFrom !== signedCut) return fail(cutFrom ? `the export starts at a checkpoint (${cutFrom.split(':')[0]}) the signed head does not name` : 'the signed head names a retention checkpoint the export does not start from');
      if (previous && previous.seq === signed.count && previous.hash !== signed.hash) return fail(`the head's hash is not record ${previous.seq}'s`, previous.seq);
      if (previous && previous.seq > signed.count) return fail(`the head counts ${signed.count} records, the export goes to ${previous.seq}`, previous.seq);
      const last = count > 0 ? previous : null;
      if (signed.range === undefined) {
        if (gapAfterCut) return { ok: false, line: gapAfterCut.line, seq: gapAfterCut.seq, problem: `seq ${gapAfterCut.seq} follows ${gapAfterCut.after}: records are missing` };
        continue;
      }
      const range = signed.range;
      if (!isRange(range)) return fail("the head's range is not one km writes");
      const signedSpan = range.firstSeq === null ? 'no records' : `records ${range.firstSeq}-${range.lastSeq}`;
      if (first === null && range.firstSeq !== null) return fail(`the signed head says the export holds ${signedSpan}; it holds none`);
      if (first !== null && range.firstSeq !== first) return fail(`the export starts at record ${first}, the signed head says it holds ${signedSpan}: ${range.firstSeq === null || first < range.firstSeq ? 'records were added' : 'records were cut from its start'}`, first);
      if (last && range.lastSeq !== last.seq) return fail(`the export ends at record ${last.seq}, the signed head says it holds ${signedSpan}: ${range.lastSeq === null || last.seq > range.lastSeq ? 'records were added' : 'records were cut from its end'}`, last.seq);
      if (last && range.lastHash !== last.hash) return fail(`record ${last.seq} is not the one the head signed`, last.seq);
      if (range.lastSeq !== null && range.lastSeq > signed.count) return fail(`the signed range ends at ${range.lastSeq}, after the chain's ${signed.count} records`);
      continue;
    }
    const record = parsed as AuditRecord;
    if (!Number.isInteger(record.seq) || typeof record.hash !== 'string' || typeof record.prevHash !== 'string') return fail('not an audit record');
    // Only these are hashed: any other field would be shown unproven.
    if (Object.keys(record).join() !== RECORD_FIELDS) return fail(`record ${record.seq} has fields km does not write (it writes ${RECORD_FIELDS})`, record.seq);
    if (previous && count === 0 && cutAt !== null && record.seq > previous.seq + 1) {
      // After a checkpoint, a window that starts later has no link to check: its range, signed, must say it starts here.
      gapAfterCut = { line: lineNo, seq: record.seq, after: previous.seq };
      previous = null;
    }
    if (previous && record.seq !== previous.seq + 1) return fail(`seq ${record.seq} follows ${previous.seq}: ${record.seq > previous.seq + 1 ? 'records are missing' : 'records are out of order'}`, record.seq);
    if (previous && record.prevHash !== previous.hash) return fail(`record ${record.seq} does not link to record ${previous.seq}`, record.seq);
    if (!previous && record.seq === 1) genesisSeen = record.prevHash;
    if (recordHash(record) !== record.hash) return fail(`record ${record.seq} was changed: its hash does not match its content`, record.seq);
    if (pinned && record.seq === pinned.seq) {
      if (record.hash !== pinned.hash) return fail(`record ${record.seq} is not the one published (hash ${pinned.hash.slice(0, 12)}…)`, record.seq);
      pinnedSeen = true;
    }
    first ??= record.seq;
    previous = record;
    count++;
  }
  if (!head) return { ok: false, line: lineNo, seq: previous?.seq ?? null, problem: 'no signed head at the end: the export was cut short' };
  const last = count > 0 ? (previous?.seq ?? null) : null;
  if (pinned && !pinnedSeen && first !== null && last !== null && pinned.seq >= first && pinned.seq <= last) return { ok: false, line: lineNo, seq: pinned.seq, problem: `the published record ${pinned.seq} is not in the export` };
  // A record outside the records exported (their range is signed) can be neither confirmed nor refused: the caller
  // says it was not checked, rather than that it holds or that it does not.
  let pinnedUnchecked: string | null = null;
  if (pinned && !pinnedSeen) {
    const where =
      pinned.seq > head.count ? `it comes after this export's head (a chain of ${head.count})`
      : first === null || last === null ? 'the export holds no records'
      : pinned.seq < first ? (cutAt !== null && pinned.seq <= cutAt ? `retention removed records up to ${cutAt}` : `the export starts at record ${first}`)
      : `the export ends at record ${last}`;
    pinnedUnchecked = `record ${pinned.seq} is not in this export: ${where}`;
  }
  return { ok: true, records: count, firstSeq: first, lastSeq: last, head, checkpointSeq: cutAt, range: head.range ?? null, pinnedUnchecked };
}

/** The fields of an exported record, in the order the export writes them. */
const RECORD_FIELDS = 'seq,at,type,event,prevHash,hash';

const seqOrNull = (value: unknown) => value === null || (Number.isInteger(value) && (value as number) >= 1);
const textOrNull = (value: unknown) => value === null || typeof value === 'string';

function isRange(range: unknown): range is AuditRange {
  if (range === null || typeof range !== 'object') return false;
  const { from, to, firstSeq, lastSeq, lastHash } = range as Record<string, unknown>;
  return textOrNull(from) && textOrNull(to) && seqOrNull(firstSeq) && seqOrNull(lastSeq) && textOrNull(lastHash) && (firstSeq === null) === (lastSeq === null) && (lastSeq === null) === (lastHash === null);
}
