import { ApiError, auditKeyRoute, auditRoute } from '@km/shared';
import { auditKeyShown, auditPublicKey, genesisHash, type AuditRange, type AuditRecord, type AuditSigner } from '../audit/audit-chain';
import { auditCheckpoint, orgChain } from '../audit/org-chain';
import type { Authenticator, OrgEventArchive, ReadModelStore } from '../ports';
import { routeHandler, StreamedAnswer } from './route-handler';

export interface AuditDeps {
  /** The org's events in log order: the embedded log read by org, or the cloud's audit archive; none: 501. */
  orgEvents?: OrgEventArchive;
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
  /** The server's audit key (embedded: KM_HOME/audit-signing-key.pem; Azure: KM_AUDIT_SIGNING_KEY, from Key Vault). */
  auditSigner?: AuditSigner;
  /** Why there is no signer, when the server knows (an Azure setting missing or unreadable): said in the 501. */
  auditSignerProblem?: string;
}

const CSV_COLUMNS = ['seq', 'at', 'type', 'actor', 'projectId', 'userId', 'sessionId', 'server', 'target', 'outcome', 'details', 'prevHash', 'hash'] as const;
/** The fields every event has or the other columns show: details holds the rest of an event but an interaction. */
const SHOWN_FIELDS = new Set(['id', 'v', 'type', 'ts', 'orgId', 'receivedAt', 'batchId', 'actor', 'projectId', 'userId', 'sessionId', 'server', 'target', 'outcome', 'machineId']);

/**
 * How far apart in time two events of one org may have been accepted and appended the other way round: in Azure,
 * instances with their own clocks append to the org's partition as their requests end. A window's end looks this
 * far past `to` for records accepted within it.
 */
const OUT_OF_ORDER_MS = 10 * 60_000;

/**
 * GET /api/audit: the org's events as a hash chain, streamed. The chain is made here from the log, from the org's
 * first event on, every time: the same log gives the same hashes, so a head published or kept from an earlier
 * export (`km audit verify --head SEQ:HASH`) proves that what came before it was not changed since. from/to only
 * choose which records are written out: the consecutive records from the first accepted within the window to the
 * last, with any accepted outside it that the log holds between them (events appended out of order), since verify
 * checks every link of what it is given.
 */
export const makeAuditHandler = routeHandler(auditRoute, async (caller, { from, to, format = 'ndjson' }, deps: AuditDeps) => {
  // Refused before the stream starts, so the caller gets a status, not a cut-off body.
  const signer = signerOf(deps);
  const events = deps.orgEvents;
  if (!events) throw new ApiError(501, 'this server keeps no copy of the event log it can read back per org, so it cannot make the audit chain');
  const inWindow = (at: number) => (from === undefined || at >= from) && (to === undefined || at <= to);
  const checkpoint = await auditCheckpoint(deps.readModelStore, caller.orgId);
  async function* lines(): AsyncGenerator<string> {
    if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\n`;
    // After a retention cut the chain goes on from the last record removed: that record's seq and hash come first.
    if (checkpoint) {
      const line = { checkpoint: true as const, orgId: caller.orgId, seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at };
      yield format === 'csv' ? `# checkpoint,${line.seq},${line.hash},${line.at}\n` : `${JSON.stringify(line)}\n`;
    }
    let prevHash = checkpoint?.hash ?? genesisHash(caller.orgId);
    let seq = checkpoint?.seq ?? 0;
    // What the export holds, signed in its head: a file cut at either end no longer matches it.
    const range: AuditRange = { from: from === undefined ? null : new Date(from).toISOString(), to: to === undefined ? null : new Date(to).toISOString(), firstSeq: null, lastSeq: null, lastHash: null };
    let chunk = '';
    // Records after the last one in the window, written out only if another in the window follows them.
    let between: AuditRecord[] = [];
    let ended = false;
    const written = (record: AuditRecord) => {
      range.firstSeq ??= record.seq;
      range.lastSeq = record.seq;
      range.lastHash = record.hash;
      return format === 'csv' ? csvLine(record) : `${JSON.stringify(record)}\n`;
    };
    for await (const { record } of orgChain(events!, caller.orgId, checkpoint)) {
      ({ seq, hash: prevHash } = record);
      if (ended) continue;
      const at = Date.parse(record.at);
      if (!inWindow(at)) {
        if (range.firstSeq === null) continue;
        if (to !== undefined && at > to + OUT_OF_ORDER_MS) ended = true;
        else between.push(record);
        continue;
      }
      for (const shown of between) chunk += written(shown);
      chunk += written(record);
      between = [];
      if (chunk.length > 256 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
    // A retention sweep saves its checkpoint before it removes events: one saved since this export began may have
    // taken records it had not read yet, and the seqs after them would be wrong. Such an export is never signed.
    const now = await auditCheckpoint(deps.readModelStore, caller.orgId);
    if ((now?.seq ?? 0) !== (checkpoint?.seq ?? 0)) throw new AuditCutMeanwhile(caller.orgId);
    const signedAt = deps.now().toISOString();
    const head = { orgId: caller.orgId, count: seq, hash: prevHash, signedAt, checkpoint: checkpoint ? { seq: checkpoint.seq, hash: checkpoint.hash } : null, range };
    const signed = { head: true as const, ...head, publicKey: signer.publicKey, signature: signer.sign(head) };
    yield format === 'csv'
      ? `# head,${signed.count},${signed.hash},${signed.signedAt},${signed.publicKey},${signed.signature},${range.firstSeq ?? ''},${range.lastSeq ?? ''},${range.lastHash ?? ''},${range.from ?? ''},${range.to ?? ''}\n`
      : `${JSON.stringify(signed)}\n`;
  }
  return new StreamedAnswer(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8', lines());
});

/** Ends an export's stream with an error, so the caller gets a cut-off body (and no head), never a wrong chain. */
export class AuditCutMeanwhile extends Error {
  constructor(orgId: string) {
    super(`a retention sweep removed events of org ${orgId} while its audit export was read; the export is not signed: export again`);
    this.name = 'AuditCutMeanwhile';
  }
}

function signerOf(deps: AuditDeps): AuditSigner {
  if (deps.auditSigner) return deps.auditSigner;
  throw new ApiError(501, `this server has no audit signing key, so it cannot sign an export: ${deps.auditSignerProblem ?? 'the embedded host makes one under KM_HOME; in Azure it is KM_AUDIT_SIGNING_KEY, a Key Vault reference (README, "Azure")'}`);
}

/** GET /api/audit/key: the key heads are signed with, so a reader checks a head against the server's key, not the file's. */
export const makeAuditKeyHandler = routeHandler(auditKeyRoute, async (_caller, _input, deps: AuditDeps) => {
  const signer = signerOf(deps);
  const key = auditPublicKey(signer.publicKey);
  if (!key) throw new Error('the audit signing key is not an Ed25519 key');
  return { algorithm: 'Ed25519' as const, publicKey: signer.publicKey, ...auditKeyShown(key) };
});

/** A CSV cell: quoted where its text needs it, and a leading formula character made text (CSV injection). */
export const csvCell = (value: unknown) => {
  const text = value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  // A leading tab or carriage return starts a formula too (OWASP's list), as =, +, - and @ do.
  return /[",\n\r]/.test(text) || /^[=+\-@\t\r]/.test(text) ? `"${text.replace(/^([=+\-@\t\r])/, "'$1").replace(/"/g, '""')}"` : text;
};

/**
 * What an event was about beyond the columns, as JSON: who was invited with which role, the key revoked, a team's
 * users, a budget's amount (rows of admin actions said only their type and actor). Interactions have their columns.
 */
function detailsOf(type: string, event: Record<string, unknown>): string | null {
  if (type === 'mcp.interaction') return null;
  const rest = Object.fromEntries(Object.entries(event).filter(([field]) => !SHOWN_FIELDS.has(field)));
  return Object.keys(rest).length > 0 ? JSON.stringify(rest) : null;
}

function csvLine(record: AuditRecord): string {
  const event = record.event as Record<string, unknown>;
  const server = (event.server as { name?: string } | undefined)?.name;
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    seq: record.seq,
    at: record.at,
    type: record.type,
    actor: event.actor,
    projectId: event.projectId,
    userId: event.userId,
    sessionId: event.sessionId,
    server,
    target: event.target,
    outcome: event.outcome,
    details: detailsOf(record.type, event),
    prevHash: record.prevHash,
    hash: record.hash,
  };
  return `${CSV_COLUMNS.map((column) => csvCell(values[column])).join(',')}\n`;
}
