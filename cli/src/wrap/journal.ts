import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync, writevSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureHome } from '../config/settings';
import type { ObservationEnv } from '../config/observation-env';
import { pidAlive } from '../pid-alive';
import type { Direction } from '@km/shared';
import type { ClientEnded, ObservedIdentity } from './observer';
import type { ChunkBatch, PolicyBlock } from './observer-protocol';
import type { JournalRef } from './observer-queue';

/**
 * The kill -9 journal (issue 10). The forwarding thread appends every hand-off batch to it with one write, before
 * the observer thread gets the batch; the observer spools events a few ms later. A km killed in between leaves the
 * batches in the journal (the page cache outlives the process, so no fsync), and the next km or `km flush` replays
 * them through a fresh observer of the same session, which redacts as always: the raw journal never leaves the
 * machine (files 0600, directory 0700).
 *
 * How far the journal is still needed: after spooling batch S the observer writes an ack (S, N), N being the oldest
 * batch it still needs: the batch where a still-pending request's bytes began, or where a line still being framed
 * began. Replay re-observes the batches from N and drops what batches up to S make (already spooled); requests from
 * before S then still pair with answers after S. The forwarding thread empties or drops segments that end before N.
 * Event ids are derived from the session id and the batch (wrap/session.ts), so the short window between a spool
 * write and its ack at worst re-makes events with the same ids, which ingest's (orgId, id) dedup absorbs.
 *
 * Files, under KM_HOME/journal: `<base>.<n>.jrnl` segments (records), `<base>.session` (the session's identity,
 * written once by the observer), `<base>.ack` (the observer's progress), `<base>.replay` (a replayer's claim).
 * `<base>` starts with the km pid: a journal of a dead pid is replayed.
 */
const MAGIC = 0x314a4d4b; // "KMJ1"
/** After each record: a torn record followed by other bytes is still not taken for a whole one. */
const END = Buffer.from([0x0a, 0x4a, 0x4d, 0x4b]);
const KIND_HEADER = 1;
const KIND_BATCH = 2;
/** What the forwarding thread saw of the end (a signal from the client, the server's exit), for a replay to use. */
const KIND_END = 3;
/** The policy's refusals in the batch that follows (same seq): written with it, in the same write. */
const KIND_BLOCKS = 4;
/** A segment still needed past this size is closed and a new one begun, so spooled batches can be dropped. */
const SEGMENT_BYTES = 1024 * 1024;
/** A segment whose batches are all spooled is emptied once it holds this much: one truncate per batch would cost the hot path more than the disk it saves. */
const TRIM_BYTES = 64 * 1024;

/** What the forwarding thread knows of its session: enough to replay it when the observer never said more. */
export interface JournalHeader {
  kmPid: number;
  startedAt: number;
  options: unknown;
  projectConfig: unknown;
  /** The observation variables km was started with (config/observation-env.ts); absent in journals of older km. */
  env?: ObservationEnv;
}

/** What the observer writes once it knows it: replay uses the same session id and envelope. */
export interface JournalSession {
  sessionId: string;
  startedAt: number;
  options: unknown;
  projectConfig: unknown;
  envelope: unknown;
}

/** The observer's progress: batches up to spooledThrough are spooled; replay starts at neededFrom. */
export interface JournalAck {
  spooledThrough: number;
  neededFrom: number;
  /** session.started is in the spool, and the server's pid it named. */
  started: boolean;
  childPid: number;
  dropped: number;
  /** Previews not made while the observer was behind (absent in journals of older km). */
  droppedPreviews?: number;
  /** Set when the session's end was being recorded: replay makes the same end (same ids). */
  end: JournalEnd | null;
  /** The last arrival time observed, for the end of a killed session. */
  at: number;
  /** The protocol revision and peers learned so far (from initialize, long trimmed away): replayed events carry them. */
  identity?: ObservedIdentity;
  /** Directions inside a PEM private key printed line by line (SessionObserver.openPrivateKeys). */
  openPrivateKeys?: Direction[];
}

/** The end as the forwarding thread saw it: the observer may not have spooled it before the client's SIGKILL. */
export interface JournalEnd {
  exitCode: number | null;
  signal: string | null;
  at: number;
  /** The server could not be started, and why. */
  startError?: string;
  /** When and how the client ended the session (a signal, its end of stdin); absent when the server did, and from older km. */
  clientEnded?: ClientEnded;
}

export interface JournalBatch {
  seq: number;
  directions: Array<0 | 1>;
  times: number[];
  chunks: Buffer[];
  blocks?: PolicyBlock[];
}

export const journalDir = (home: string) => join(home, 'journal');

/** The names of one session's journal files. */
export class JournalFiles {
  private dirReady = false;

  constructor(
    readonly dir: string,
    readonly base: string,
  ) {}

  /** A new journal for this process: `<pid>-<ms>-<random>`. */
  static fresh(home: string): JournalFiles {
    return new JournalFiles(journalDir(home), `${process.pid}-${Date.now()}-${randomBytes(3).toString('hex')}`);
  }

  get ownerPid(): number {
    return Number(this.base.slice(0, this.base.indexOf('-')));
  }

  segmentPath(n: number): string {
    return join(this.dir, `${this.base}.${n}.jrnl`);
  }

  get sessionPath(): string {
    return join(this.dir, `${this.base}.session`);
  }

  get ackPath(): string {
    return join(this.dir, `${this.base}.ack`);
  }

  get claimPath(): string {
    return join(this.dir, `${this.base}.replay`);
  }

  /** Segment paths in the order they were written. */
  segments(): string[] {
    const prefix = `${this.base}.`;
    return names(this.dir)
      .filter((n) => n.startsWith(prefix) && n.endsWith('.jrnl'))
      .map((n) => ({ n, i: Number(n.slice(prefix.length, -'.jrnl'.length)) }))
      .filter(({ i }) => Number.isInteger(i))
      .sort((a, b) => a.i - b.i)
      .map(({ n }) => join(this.dir, n));
  }

  /** The forwarding thread and the observer each write here first, whichever comes first makes the directory. */
  ensureDir(): void {
    if (this.dirReady) return;
    ensureHome(dirname(this.dir));
    try {
      mkdirSync(this.dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    this.dirReady = true;
  }

  writeSession(session: JournalSession): void {
    this.ensureDir();
    atomicWrite(this.sessionPath, JSON.stringify(session));
  }

  writeAck(ack: JournalAck): void {
    this.ensureDir();
    atomicWrite(this.ackPath, JSON.stringify(ack));
  }

  readSession(): JournalSession | null {
    return readJson(this.sessionPath) as JournalSession | null;
  }

  readAck(): JournalAck | null {
    return readJson(this.ackPath) as JournalAck | null;
  }

  /** The header and the batches of every segment, in order; a torn last record (km killed mid-write) is skipped. */
  read(): { header: JournalHeader | null; batches: JournalBatch[]; end: JournalEnd | null; tornBytes: number } {
    let header: JournalHeader | null = null;
    const batches: JournalBatch[] = [];
    let end: JournalEnd | null = null;
    let tornBytes = 0;
    for (const path of this.segments()) {
      let buf: Buffer;
      try {
        buf = readFileSync(path);
      } catch {
        continue;
      }
      const parsed = parseRecords(buf);
      header ??= parsed.header;
      batches.push(...parsed.batches);
      end = parsed.end ?? end;
      tornBytes += parsed.tornBytes;
    }
    return { header, batches, end, tornBytes };
  }

  /**
   * The journal's files, and the drafts of atomicWrite a kill -9 left between its write and its rename (a journal
   * is removed by its own km at its end, or by the km that claimed it for a replay: nobody else writes its files).
   */
  remove(): void {
    const drafts = names(this.dir)
      .filter((name) => name.startsWith(`${this.base}.`) && name.endsWith('.tmp'))
      .map((name) => join(this.dir, name));
    for (const path of [...this.segments(), this.sessionPath, this.ackPath, ...drafts, this.claimPath]) unlinkQuietly(path);
  }

  /** Claims a dead km's journal for replay; false when a live replayer holds it. */
  claim(): boolean {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(this.claimPath, String(process.pid), { flag: 'wx', mode: 0o600 });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
        const holder = Number(readFileSync(this.claimPath, 'utf8'));
        if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) return false;
        unlinkQuietly(this.claimPath); // its replayer died too: take over
      }
    }
    return false;
  }

  release(): void {
    unlinkQuietly(this.claimPath);
  }
}

/** The journals whose km died (same liveness check as the spool's orphans): they wait for a replay. */
export function deadJournals(home: string): JournalFiles[] {
  const dir = journalDir(home);
  const bases = new Set<string>();
  for (const name of names(dir)) {
    const match = /^((\d+)-\d+-[0-9a-f]+)\.(?:\d+\.jrnl|session|ack)$/.exec(name);
    if (match && Number(match[2]) !== process.pid && !pidAlive(Number(match[2]))) bases.add(match[1]!);
  }
  return [...bases].sort().map((base) => new JournalFiles(dir, base));
}

/** Dead kms' journals, claimed for this process to replay. */
export function claimDeadJournals(home: string): JournalFiles[] {
  return deadJournals(home).filter((files) => files.claim());
}

/**
 * The forwarding thread's side: one writev per batch (a record header and the chunks as they are), nothing else on
 * the hot path. A failing write turns journaling off for the session (the observer logs why); forwarding goes on.
 */
export class JournalWriter {
  private fd: number | null = null;
  private segment = 0;
  private bytes = 0;
  private lastSeq = 0;
  private disabled = false;
  /** Closed segments still on disk, with the last batch each holds. */
  private readonly closed: Array<{ path: string; lastSeq: number }> = [];
  private readonly headerRecord: Buffer;

  constructor(
    readonly files: JournalFiles,
    header: JournalHeader,
    private readonly onFailure: (reason: string) => void,
  ) {
    this.headerRecord = record(KIND_HEADER, Buffer.from(JSON.stringify(header)));
  }

  /** Returns where the batch's record is, for the observer to read it back (observer-queue.ts); null when not written. */
  append(seq: number, batch: ChunkBatch): JournalRef | null {
    if (this.disabled) return null;
    try {
      const buffers: Uint8Array[] = [];
      if (this.fd === null) this.open();
      if (this.bytes === 0) buffers.push(this.headerRecord);
      const offset = this.bytes + (this.bytes === 0 ? this.headerRecord.length : 0);
      const blocks = batch.blocks?.length ? record(KIND_BLOCKS, Buffer.from(JSON.stringify({ seq, blocks: batch.blocks }))) : null;
      if (blocks) buffers.push(blocks);
      const count = batch.chunks.length;
      let chunkBytes = 0;
      for (const chunk of batch.chunks) chunkBytes += chunk.byteLength;
      const meta = Buffer.allocUnsafe(8 + 1 + 8 + 4 + count * 13);
      meta.writeUInt32LE(MAGIC, 0);
      meta.writeUInt32LE(1 + 8 + 4 + count * 13 + chunkBytes, 4);
      meta.writeUInt8(KIND_BATCH, 8);
      meta.writeDoubleLE(seq, 9);
      meta.writeUInt32LE(count, 17);
      for (let i = 0, at = 21; i < count; i++, at += 13) {
        meta.writeUInt8(batch.directions[i]!, at);
        meta.writeDoubleLE(batch.times[i]!, at + 1);
        meta.writeUInt32LE(batch.chunks[i]!.byteLength, at + 9);
      }
      buffers.push(meta, ...batch.chunks, END);
      this.write(buffers);
      this.lastSeq = seq;
      return { path: this.files.segmentPath(this.segment), offset, length: (blocks?.length ?? 0) + meta.length + chunkBytes + END.length };
    } catch (err) {
      this.fail((err as Error).message);
      return null;
    }
  }

  /** Notes how the session ended, as far as this thread knows; the last note stands (an exit after a signal). */
  appendEnd(end: JournalEnd): void {
    if (this.disabled) return;
    try {
      if (this.fd === null) this.open();
      const endRecord = record(KIND_END, Buffer.from(JSON.stringify(end)));
      this.write(this.bytes === 0 ? [this.headerRecord, endRecord] : [endRecord]);
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  /** The observer no longer needs batches before neededFrom: drop them from disk. */
  spooled(neededFrom: number): void {
    if (this.disabled) return;
    try {
      if (this.fd !== null && this.bytes >= TRIM_BYTES && neededFrom > this.lastSeq) {
        ftruncateSync(this.fd, 0); // everything written is spooled: the segment starts over
        this.bytes = 0;
      } else if (this.fd !== null && this.bytes >= SEGMENT_BYTES) {
        this.closeSegment();
      }
      while (this.closed.length > 0 && this.closed[0]!.lastSeq < neededFrom) unlinkQuietly(this.closed.shift()!.path);
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  /** Stops writing; the files stay for the observer to remove once the end is spooled, or for a replay. */
  close(): void {
    this.disabled = true;
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // nothing more to do
      }
    }
    this.fd = null;
  }

  /** One writev of whole records; a short write is an error (the torn record is skipped on read). */
  private write(buffers: Uint8Array[]): void {
    let total = 0;
    for (const b of buffers) total += b.byteLength;
    const written = writevSync(this.fd!, buffers);
    if (written !== total) throw new Error(`a journal write was cut short (${written} of ${total} bytes)`);
    this.bytes += written;
  }

  private open(): void {
    this.files.ensureDir();
    this.segment++;
    this.fd = openSync(this.files.segmentPath(this.segment), 'a', 0o600);
    this.bytes = 0;
  }

  private closeSegment(): void {
    closeSync(this.fd!);
    this.closed.push({ path: this.files.segmentPath(this.segment), lastSeq: this.lastSeq });
    this.fd = null;
  }

  private fail(reason: string): void {
    this.close();
    this.onFailure(reason);
  }
}

function record(kind: number, body: Buffer): Buffer {
  const head = Buffer.allocUnsafe(9);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(1 + body.length, 4);
  head.writeUInt8(kind, 8);
  return Buffer.concat([head, body, END]);
}

/** Reads records until the end or a record that is not whole (a torn last write). */
export function parseRecords(buf: Buffer): { header: JournalHeader | null; batches: JournalBatch[]; end: JournalEnd | null; tornBytes: number } {
  let header: JournalHeader | null = null;
  const batches: JournalBatch[] = [];
  let sessionEnd: JournalEnd | null = null;
  let blocks: { seq: number; blocks: PolicyBlock[] } | null = null;
  let offset = 0;
  while (offset + 9 <= buf.length && buf.readUInt32LE(offset) === MAGIC) {
    const length = buf.readUInt32LE(offset + 4);
    const end = offset + 8 + length;
    if (length < 1 || end + END.length > buf.length || !buf.subarray(end, end + END.length).equals(END)) break;
    const kind = buf.readUInt8(offset + 8);
    const body = buf.subarray(offset + 9, end);
    if (kind === KIND_HEADER) {
      try {
        header ??= JSON.parse(body.toString('utf8')) as JournalHeader;
      } catch {
        break;
      }
    } else if (kind === KIND_BATCH) {
      const batch = parseBatch(body);
      if (!batch) break;
      if (blocks?.seq === batch.seq) batch.blocks = blocks.blocks;
      blocks = null;
      batches.push(batch);
    } else if (kind === KIND_BLOCKS) {
      try {
        blocks = JSON.parse(body.toString('utf8')) as { seq: number; blocks: PolicyBlock[] };
      } catch {
        break;
      }
    } else if (kind === KIND_END) {
      try {
        sessionEnd = JSON.parse(body.toString('utf8')) as JournalEnd;
      } catch {
        break;
      }
    }
    offset = end + END.length;
  }
  return { header, batches, end: sessionEnd, tornBytes: buf.length - offset };
}

/** One batch record read back by the observer (a reference from the forwarding thread); null when it is not whole. */
export function readBatchRecord(ref: JournalRef): JournalBatch | null {
  const buf = Buffer.allocUnsafe(ref.length);
  const fd = openSync(ref.path, 'r');
  try {
    if (readSync(fd, buf, 0, ref.length, ref.offset) !== ref.length) return null;
  } finally {
    closeSync(fd);
  }
  return parseRecords(buf).batches[0] ?? null;
}

function parseBatch(body: Buffer): JournalBatch | null {
  if (body.length < 12) return null;
  const seq = body.readDoubleLE(0);
  const count = body.readUInt32LE(8);
  let data = 12 + count * 13;
  if (data > body.length) return null;
  const batch: JournalBatch = { seq, directions: [], times: [], chunks: [] };
  for (let i = 0, at = 12; i < count; i++, at += 13) {
    const length = body.readUInt32LE(at + 9);
    if (data + length > body.length) return null;
    batch.directions.push(body.readUInt8(at) === 0 ? 0 : 1);
    batch.times.push(body.readDoubleLE(at + 1));
    batch.chunks.push(body.subarray(data, data + length));
    data += length;
  }
  return batch;
}

function atomicWrite(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
