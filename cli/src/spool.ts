import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
  appendFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { KmEvent } from '@km/shared';
import type { Logger } from './log';

/**
 * The durable local spool. Each km process appends to a file of its own (no locks on the hot path; five
 * wrappers started by one client config never contend). A line is a whole event; an event counts as recorded
 * once its write() returned, which survives kill -9 of km. Shipping progress is an acknowledged byte offset in
 * a sidecar file, written only after the ingest API said 2xx: a crash in between re-sends, and ingest
 * ignores the duplicate ids.
 *
 * File names: `<spoolId>.<ownerPid>.jsonl` and `<spoolId>.ack`. A file whose owner died (or went silent for
 * STALE_MS) is an orphan; the next km claims it with an atomic rename to its own pid.
 */
const STALE_MS = 10 * 60 * 1000;
const READ_WINDOW = 1024 * 1024;

export interface SpoolBatch {
  events: KmEvent[];
  /** Byte offset just past the last line of this batch: ack it once the batch is safely stored. */
  endOffset: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
    writeFileSync(tmp, String(offset));
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

  remove(): void {
    for (const path of [this.path, this.ackPath]) {
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
  readonly own: SpoolFile;
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
    if (!existsSync(this.dir)) mkdirSync(this.dir, { mode: 0o700 }); // KM_HOME exists: ensureHome ran first
    const spoolId = `${process.pid}-${Date.now()}-${randomBytes(3).toString('hex')}`;
    this.own = new SpoolFile(this.dir, spoolId, process.pid);
    this.approxTotalBytes = this.measure();
  }

  /** Appends whole lines with one write. Returns false when the spool is full and the events were dropped. */
  append(events: KmEvent[]): boolean {
    if (events.length === 0) return true;
    const text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const bytes = Buffer.byteLength(text);
    if (this.approxTotalBytes + bytes > this.maxBytes) {
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
    writeSync(this.fd, text);
    this.approxTotalBytes += bytes;
    return true;
  }

  /** Tells other km processes this file's owner is alive, even when the session is idle. */
  heartbeat(): void {
    if (this.fd === null) return;
    const now = new Date();
    try {
      utimesSync(this.own.path, now, now);
    } catch {
      // the file was removed under us; append will recreate it
    }
  }

  /** Re-reads the spool's size from disk: other processes ship and remove files too. */
  measure(): number {
    let total = 0;
    for (const name of this.listNames()) {
      try {
        total += statSync(join(this.dir, name)).size;
      } catch {
        // removed meanwhile
      }
    }
    this.approxTotalBytes = total;
    if (total < this.maxBytes * 0.9) this.warnedFull = false;
    return total;
  }

  /** Files of km processes that died (or were silent for 10 minutes): claimed for this process, oldest first. */
  claimOrphans(now: number = Date.now()): SpoolFile[] {
    const claimed: SpoolFile[] = [];
    for (const name of this.listNames().sort()) {
      const match = /^(.+)\.(\d+)\.jsonl$/.exec(name);
      if (!match) continue;
      const [, spoolId, ownerText] = match;
      const owner = Number(ownerText);
      if (owner === process.pid) continue;
      let stale = false;
      try {
        stale = now - statSync(join(this.dir, name)).mtimeMs > STALE_MS;
      } catch {
        continue;
      }
      if (pidAlive(owner) && !stale) continue;
      const file = new SpoolFile(this.dir, spoolId!, owner);
      if (file.claim(process.pid)) claimed.push(file);
    }
    return claimed;
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
