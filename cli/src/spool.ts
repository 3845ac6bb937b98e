import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  ftruncateSync,
  writeFileSync,
  writeSync,
  appendFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { KmEvent } from '@km/shared';
import type { Logger } from './log';
import { pidAlive } from './pid-alive';

/**
 * The durable local spool. Each km process appends to a file of its own (no locks on the hot path; five
 * wrappers started by one client config never contend). A line is a whole event; an event counts as recorded
 * once its write() returned, which survives kill -9 of km. Shipping progress is an acknowledged byte offset in
 * a sidecar file, written only after the ingest API said 2xx: a crash in between re-sends, and ingest
 * ignores the duplicate ids.
 *
 * File names: `<spoolId>.<ownerPid>.jsonl` and `<spoolId>.ack`. A file whose owner died is an orphan; the next km
 * claims it with an atomic rename to its own pid. Only a dead owner's file: a live owner (even one asleep for
 * hours with its laptop) keeps writing through its open descriptor, and a claimer would ship and delete the file
 * under it, losing whatever it writes next.
 */
const READ_WINDOW = 1024 * 1024;
/** A long session's own file is replaced by a fresh one once everything in it shipped and it grew this big. */
const ROTATE_BYTES = 8 * 1024 * 1024;

export interface SpoolBatch {
  events: KmEvent[];
  /** Byte offset just past the last line of this batch: ack it once the batch is safely stored. */
  endOffset: number;
}

export class SpoolFile {
  constructor(
    readonly dir: string,
    readonly spoolId: string,
    private owner: number,
  ) {}

  get path(): string {
    return join(this.dir, `${this.spoolId}.${this.owner}.jsonl`);
  }

  private get ackPath(): string {
    return join(this.dir, `${this.spoolId}.ack`);
  }

  ackedOffset(): number {
    try {
      const n = Number(readFileSync(this.ackPath, 'utf8'));
      return Number.isFinite(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  ack(offset: number): void {
    // Write then rename: a kill between the two leaves the old offset, never a torn one.
    const tmp = `${this.ackPath}.${process.pid}.tmp`;
    writeFileSync(tmp, String(offset), { mode: 0o600 }); // private like the rest of the spool
    renameSync(tmp, this.ackPath);
  }

  size(): number {
    try {
      return statSync(this.path).size;
    } catch {
      return 0;
    }
  }

  /** Whole lines after the acknowledged offset, up to maxEvents. `final`: a torn last line is garbage, skip it. */
  readBatch(maxEvents: number, logger: Logger, final = false): SpoolBatch | null {
    const start = this.ackedOffset();
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return null;
    }
    try {
      const size = fstatSync(fd).size;
      if (start >= size) return null;
      const window = Buffer.alloc(Math.min(READ_WINDOW, size - start));
      const read = readSync(fd, window, 0, window.length, start);
      const lastNewline = window.subarray(0, read).lastIndexOf(0x0a);
      if (lastNewline === -1) {
        if (read === READ_WINDOW || final) {
          logger.error(`spool ${this.spoolId}: skipped ${read} bytes without a line end at offset ${start}`);
          return { events: [], endOffset: start + read };
        }
        return null; // a line being written right now
      }
      const events: KmEvent[] = [];
      let offset = start;
      let lineStart = 0;
      while (lineStart <= lastNewline && events.length < maxEvents) {
        const nl = window.indexOf(0x0a, lineStart);
        const line = window.toString('utf8', lineStart, nl);
        offset = start + nl + 1;
        lineStart = nl + 1;
        if (line.trim() === '') continue;
        try {
          events.push(JSON.parse(line) as KmEvent);
        } catch {
          logger.error(`spool ${this.spoolId}: skipped an unreadable line at offset ${offset - line.length - 1}`);
        }
      }
      return { events, endOffset: offset };
    } finally {
      closeSync(fd);
    }
  }

  fullyShipped(): boolean {
    return this.ackedOffset() >= this.size();
  }

  /** Where a file refused for a reason that may change (key, tenant) waits, with the reason beside it. */
  private get refusedPath(): string {
    return join(this.dir, `${this.spoolId}.refused.jsonl`);
  }

  private get refusedReasonPath(): string {
    return join(this.dir, `${this.spoolId}.refused`);
  }

  /**
   * Sets the file aside: out of the shipping path (no longer claimed or counted against the bound) until
   * `km flush --retry-refused` takes it back. The acknowledged offset stays, so nothing ships twice.
   */
  setAside(reason: string): void {
    writeFileSync(this.refusedReasonPath, `${new Date().toISOString()} ${reason}\n`, { mode: 0o600 });
    renameSync(this.path, this.refusedPath);
  }

  remove(): void {
    for (const path of [this.path, this.ackPath, this.refusedReasonPath]) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  }

  /** Takes an orphan over with an atomic rename; false when another km was faster. */
  claim(newOwner: number): boolean {
    const from = this.path;
    const to = join(this.dir, `${this.spoolId}.${newOwner}.jsonl`);
    try {
      renameSync(from, to);
      this.owner = newOwner;
      return true;
    } catch {
      return false;
    }
  }
}

export class Spool {
  readonly dir: string;
  own: SpoolFile;
  private fd: number | null = null;
  private approxTotalBytes: number;
  private warnedFull = false;
  dropped = 0;

  constructor(
    home: string,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    private readonly onFull: (message: string) => void = () => {},
  ) {
    this.dir = join(home, 'spool');
    try {
      mkdirSync(this.dir, { mode: 0o700 }); // KM_HOME exists: ensureHome ran first
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // five wrappers starting at once
    }
    this.own = Spool.freshFile(this.dir);
    this.approxTotalBytes = this.measure();
  }

  private static freshFile(dir: string): SpoolFile {
    return new SpoolFile(dir, `${process.pid}-${Date.now()}-${randomBytes(3).toString('hex')}`, process.pid);
  }

  /** Appends whole lines with one write. Returns false when the spool is full and the events were dropped. */
  /**
   * `lifecycle`: a session's start and end events bypass the bound (they are few and small, and without them the
   * session never appears or never ends), so the end can say how much was dropped.
   */
  append(events: KmEvent[], options: { lifecycle?: boolean } = {}): boolean {
    if (events.length === 0) return true;
    const text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const bytes = Buffer.byteLength(text);
    // Full by the running count? Look again first: shipping (ours and others') frees space the count does not see.
    if (!options.lifecycle && this.approxTotalBytes + bytes > this.maxBytes && this.measure() + bytes > this.maxBytes) {
      this.dropped += events.length;
      if (!this.warnedFull) {
        this.warnedFull = true;
        const message = `km: the spool in ${this.dir} is full (${this.maxBytes} bytes); new events are being dropped. Start \`km serve\` or run \`km flush\` so they can ship, or raise KM_MAX_SPOOL_BYTES.`;
        this.logger.warn(message);
        this.onFull(message);
      }
      return false;
    }
    if (this.fd === null) this.fd = openSync(this.own.path, 'a', 0o600);
    if (!this.writeWhole(this.fd, Buffer.from(text))) {
      this.dropped += events.length;
      return false;
    }
    this.approxTotalBytes += bytes;
    this.warnedFull = false; // room again: the next time it fills up is worth another warning
    return true;
  }

  /**
   * One write of whole lines. A write cut short (full disk) or failing is undone by truncating back to where it
   * started, so no torn line is left for the next append to run into (the reader would lose both).
   */
  private writeWhole(fd: number, buf: Buffer): boolean {
    let before: number;
    try {
      before = fstatSync(fd).size;
    } catch (err) {
      this.logger.error(`spool ${this.own.spoolId}: cannot stat the spool file: ${(err as Error).message}; events dropped`);
      return false;
    }
    let written = 0;
    let failure = '';
    try {
      written = writeSync(fd, buf, 0, buf.length);
    } catch (err) {
      failure = (err as Error).message;
    }
    if (written === buf.length) return true;
    try {
      ftruncateSync(fd, before);
    } catch (err) {
      this.logger.error(`spool ${this.own.spoolId}: cannot truncate a short write back: ${(err as Error).message}`);
    }
    this.logger.warn(`spool ${this.own.spoolId}: a write was cut short (${written} of ${buf.length} bytes${failure ? `: ${failure}` : ''}); its events were dropped`);
    return false;
  }

  /** Re-reads what waits in the spool, from disk: bytes not yet acknowledged, whoever's file they are in. */
  measure(): number {
    this.approxTotalBytes = this.waiting().bytes;
    return this.approxTotalBytes;
  }

  /** The files with bytes not yet acknowledged, and those bytes (km status): a file shipped to its end waits for nothing. */
  waiting(): { files: number; bytes: number } {
    let files = 0;
    let bytes = 0;
    for (const name of this.listNames()) {
      const match = /^(.+)\.(\d+)\.jsonl$/.exec(name);
      if (!match) continue;
      const file = new SpoolFile(this.dir, match[1]!, Number(match[2]));
      const pending = Math.max(0, file.size() - file.ackedOffset());
      if (pending === 0) continue;
      files++;
      bytes += pending;
    }
    return { files, bytes };
  }

  /**
   * Starts a fresh own file when everything in the current one shipped and it grew large: a session of days must
   * not keep every byte it ever shipped on disk. Called after a successful shipping pass.
   */
  rotateIfShipped(): void {
    if (this.own.size() < ROTATE_BYTES || !this.own.fullyShipped()) return;
    this.close();
    this.own.remove();
    this.own = Spool.freshFile(this.dir);
  }

  /** Files of km processes that died: claimed for this process, oldest first. */
  claimOrphans(): SpoolFile[] {
    const claimed: SpoolFile[] = [];
    for (const name of this.listNames().sort()) {
      const match = /^(.+)\.(\d+)\.jsonl$/.exec(name);
      if (!match) continue;
      const [, spoolId, ownerText] = match;
      const owner = Number(ownerText);
      if (owner === process.pid || pidAlive(owner)) continue;
      const file = new SpoolFile(this.dir, spoolId!, owner);
      if (file.claim(process.pid)) claimed.push(file);
    }
    return claimed;
  }

  /** Files set aside after a refusal (401/403), with why and how much waits in each. */
  refused(): Array<{ spoolId: string; bytes: number; reason: string }> {
    const out: Array<{ spoolId: string; bytes: number; reason: string }> = [];
    for (const name of this.listNames().sort()) {
      const match = /^(.+)\.refused\.jsonl$/.exec(name);
      if (!match) continue;
      const spoolId = match[1]!;
      let reason = 'refused';
      try {
        reason = readFileSync(join(this.dir, `${spoolId}.refused`), 'utf8').trim();
      } catch {
        // reason lost: the file still waits
      }
      let bytes = 0;
      try {
        bytes = Math.max(0, statSync(join(this.dir, name)).size - new SpoolFile(this.dir, spoolId, 0).ackedOffset());
      } catch {
        continue; // taken back meanwhile
      }
      out.push({ spoolId, bytes, reason });
    }
    return out;
  }

  /**
   * Takes the files set aside back into the shipping path, claimed for this process (`km flush --retry-refused`).
   * reassignOrg: the user asked (`--reassign-org`) that their events go as this org, the one of the key they now
   * use: events stamped with another tenant's org are refused for good otherwise. Only what was not acknowledged is
   * rewritten, into a new file written whole before the old one goes, so a crash between the two ships the old
   * file again (refused and set aside again), never loses or doubles an event.
   */
  claimRefused(options: { reassignOrg?: string } = {}): SpoolFile[] {
    const claimed: SpoolFile[] = [];
    for (const { spoolId } of this.refused()) {
      try {
        renameSync(join(this.dir, `${spoolId}.refused.jsonl`), join(this.dir, `${spoolId}.${process.pid}.jsonl`));
      } catch {
        continue; // another km was faster
      }
      try {
        unlinkSync(join(this.dir, `${spoolId}.refused`));
      } catch {
        // already gone
      }
      const file = new SpoolFile(this.dir, spoolId, process.pid);
      claimed.push(options.reassignOrg ? this.reassigned(file, options.reassignOrg) : file);
    }
    return claimed;
  }

  private reassigned(file: SpoolFile, orgId: string): SpoolFile {
    const pending = readFileSync(file.path).subarray(file.ackedOffset()).toString('utf8');
    const lines: string[] = [];
    for (const line of pending.split('\n')) {
      if (line.trim() === '') continue;
      try {
        lines.push(JSON.stringify({ ...(JSON.parse(line) as object), orgId }));
      } catch {
        // a torn line (a write cut short): never acknowledged, so nothing of it was shipped or is lost here
      }
    }
    const fresh = Spool.freshFile(this.dir);
    const temp = `${fresh.path}.tmp`;
    writeFileSync(temp, lines.length > 0 ? lines.join('\n') + '\n' : '', { mode: 0o600 });
    renameSync(temp, fresh.path);
    file.remove();
    return fresh;
  }

  /** What quarantine() kept: how many events, and why the last of them was refused; null when none. */
  quarantined(): { events: number; reason: string } | null {
    let text: string;
    try {
      text = readFileSync(join(this.dir, 'rejected.jsonl'), 'utf8');
    } catch {
      return null;
    }
    const lines = text.split('\n').filter(Boolean);
    if (lines.length === 0) return null;
    let reason = 'refused';
    try {
      reason = String((JSON.parse(lines[lines.length - 1]!) as { reason?: unknown }).reason ?? reason);
    } catch {
      // a line cut short by a crash: the count still stands
    }
    return { events: lines.length, reason };
  }

  /** Events the server refused for good (schema errors): kept for a human, out of the shipping path. */
  quarantine(events: KmEvent[], reason: string): void {
    const lines = events.map((event) => JSON.stringify({ reason, event })).join('\n') + '\n';
    appendFileSync(join(this.dir, 'rejected.jsonl'), lines, { mode: 0o600 });
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private listNames(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => n.endsWith('.jsonl') && n !== 'rejected.jsonl');
    } catch {
      return [];
    }
  }
}
