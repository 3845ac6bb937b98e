import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ClientConfig } from './clients';
import { undoEntries } from './config-edit';

/**
 * What `km init` wrote, so `km init --undo` can put it back. Each changed file is first copied to a timestamped
 * backup beside it; the run is recorded under KM_HOME/init with the hash of what km wrote and each entry km wrapped
 * as it wrote it. Undo restores a file byte for byte while it still holds exactly that; a file changed since (a
 * client rewrites its own on start, as Claude Code does ~/.claude.json) gets each of km's entries still as km wrote
 * it back from the backup, the rest as it is now. An entry edited since is left alone, with the backup's path.
 */
interface RunFile {
  path: string;
  backup: string;
  writtenSha256: string;
  /** Absent in runs of older km: such a file changed since is left alone. */
  format?: ClientConfig['format'];
  entries?: Array<{ path: string[]; written: unknown }>;
}

/** A file km init changes: its new text, and the entries it wrapped in it as written there. */
export interface RunChange {
  path: string;
  text: string;
  format?: ClientConfig['format'];
  entries?: Array<{ path: string[]; written: unknown }>;
}

interface Run {
  at: string;
  files: RunFile[];
  /** Set once an --undo had to keep something: the next one that changes nothing more retires the run. */
  tried?: true;
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const runsDir = (home: string) => join(home, 'init');

export function stampNow(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

/** Writes each file's new text after backing up the old; returns where the backups are. */
export function writeRun(home: string, stamp: string, changes: readonly RunChange[]): RunFile[] {
  const files: RunFile[] = [];
  for (const { path, text, format, entries } of changes) {
    const backup = `${path}.km-backup-${stamp}`;
    copyFileSync(path, backup);
    replaceFile(path, text);
    files.push({ path, backup, writtenSha256: sha256(text), ...(format && entries ? { format, entries } : {}) });
  }
  if (files.length > 0) {
    mkdirSync(runsDir(home), { recursive: true, mode: 0o700 });
    writeFileSync(join(runsDir(home), `${stamp}.json`), JSON.stringify({ at: stamp, files } satisfies Run, null, 2), { mode: 0o600 });
  }
  return files;
}

/** An entry as output names it: its name, and its map when that is not the top one. */
const entryName = (path: string[]) => (path.length > 2 ? `${path.at(-1)} (${path.slice(0, -1).join('.')})` : path.at(-1)!);

/** Written beside it and renamed: a client reading its config never sees half a file. */
function replaceFile(path: string, text: string): void {
  const temp = `${path}.km-init-${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: statSync(path).mode & 0o777 });
  renameSync(temp, path);
}

export interface UndoOutcome {
  at: string | null;
  /** Files put back byte for byte. */
  restored: string[];
  /** Files changed since km init wrote them whose entries km wrapped were put back: path and entry names. */
  unwrapped: Array<{ path: string; entries: string[] }>;
  /** What was left as it is: the file, or its entries edited since (named), and the backup to restore by hand. */
  kept: Array<{ path: string; backup: string; entries?: string[] }>;
  /** False while the run stays for one more --undo (entries kept that the user may put back as km wrote them). */
  retired: boolean;
}

/**
 * Undoes the latest run not yet undone. The run counts as undone once nothing of it is left, or when an --undo
 * after one that had to keep entries gets no further: until then the next --undo tries the same run again.
 */
export function undoLatestRun(home: string): UndoOutcome {
  const names = existsSync(runsDir(home)) ? readdirSync(runsDir(home)).filter((n) => n.endsWith('.json')).sort() : [];
  const latest = names.at(-1);
  if (!latest) return { at: null, restored: [], unwrapped: [], kept: [], retired: true };
  const manifest = join(runsDir(home), latest);
  const run = JSON.parse(readFileSync(manifest, 'utf8')) as Run;
  const outcome: UndoOutcome = { at: run.at, restored: [], unwrapped: [], kept: [], retired: true };
  const left: RunFile[] = [];
  for (const file of run.files) {
    const exists = existsSync(file.path);
    if (!existsSync(file.backup) || !exists) {
      // Nothing to restore from, or nothing to restore: no later --undo could do more.
      outcome.kept.push({ path: file.path, backup: file.backup });
      continue;
    }
    const current = readFileSync(file.path);
    if (sha256(current) === file.writtenSha256) {
      mkdirSync(dirname(file.path), { recursive: true });
      copyFileSync(file.backup, file.path);
      outcome.restored.push(file.path);
      continue;
    }
    if (!file.format || !file.entries) {
      // A run of an older km, changed since: only the user can tell what to keep (the backup is there).
      outcome.kept.push({ path: file.path, backup: file.backup });
      continue;
    }
    const { text, undone, kept } = undoEntries(file.format, current.toString('utf8'), readFileSync(file.backup, 'utf8'), file.entries);
    if (undone.length > 0) {
      replaceFile(file.path, text);
      outcome.unwrapped.push({ path: file.path, entries: undone.map(entryName) });
    }
    if (kept.length > 0) {
      outcome.kept.push({ path: file.path, backup: file.backup, entries: kept.map(entryName) });
      left.push({ ...file, entries: file.entries.filter((entry) => kept.some((path) => path.join('\u0000') === entry.path.join('\u0000'))) });
    }
  }
  // Kept entries keep the run for one more --undo (after the user puts them back as km wrote them); one that
  // gets no further retires it, so older runs are never stuck behind it.
  const progressed = outcome.restored.length > 0 || outcome.unwrapped.length > 0;
  outcome.retired = left.length === 0 || (run.tried === true && !progressed);
  if (outcome.retired) renameSync(manifest, `${manifest.slice(0, -'.json'.length)}.undone`);
  else writeFileSync(manifest, JSON.stringify({ ...run, files: left, tried: true } satisfies Run, null, 2), { mode: 0o600 });
  return outcome;
}
