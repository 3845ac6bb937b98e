import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * What `km init` wrote, so `km init --undo` can put it back byte for byte. Each changed file is first copied to a
 * timestamped backup beside it; the run is recorded under KM_HOME/init with the hash of what km wrote, and undo
 * restores a file only while it still holds exactly that (a file the user or the client edited since is left
 * alone, with the backup's path to restore it by hand).
 */
interface RunFile {
  path: string;
  backup: string;
  writtenSha256: string;
}

interface Run {
  at: string;
  files: RunFile[];
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const runsDir = (home: string) => join(home, 'init');

export function stampNow(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

/** Writes each file's new text after backing up the old; returns where the backups are. */
export function writeRun(home: string, stamp: string, changes: Array<{ path: string; text: string }>): RunFile[] {
  const files: RunFile[] = [];
  for (const { path, text } of changes) {
    const backup = `${path}.km-backup-${stamp}`;
    copyFileSync(path, backup);
    // Written beside it and renamed: a client reading its config never sees half a file.
    const temp = `${path}.km-init-${process.pid}.tmp`;
    writeFileSync(temp, text, { mode: statSync(path).mode & 0o777 });
    renameSync(temp, path);
    files.push({ path, backup, writtenSha256: sha256(text) });
  }
  if (files.length > 0) {
    mkdirSync(runsDir(home), { recursive: true, mode: 0o700 });
    writeFileSync(join(runsDir(home), `${stamp}.json`), JSON.stringify({ at: stamp, files } satisfies Run, null, 2), { mode: 0o600 });
  }
  return files;
}

export interface UndoOutcome {
  at: string | null;
  restored: string[];
  /** Files changed since km init wrote them: path and backup. */
  kept: Array<{ path: string; backup: string }>;
}

/** Restores the files of the latest run not yet undone. */
export function undoLatestRun(home: string): UndoOutcome {
  const names = existsSync(runsDir(home)) ? readdirSync(runsDir(home)).filter((n) => n.endsWith('.json')).sort() : [];
  const latest = names.at(-1);
  if (!latest) return { at: null, restored: [], kept: [] };
  const manifest = join(runsDir(home), latest);
  const run = JSON.parse(readFileSync(manifest, 'utf8')) as Run;
  const outcome: UndoOutcome = { at: run.at, restored: [], kept: [] };
  for (const file of run.files) {
    const current = existsSync(file.path) ? sha256(readFileSync(file.path)) : null;
    if (current !== file.writtenSha256 || !existsSync(file.backup)) {
      outcome.kept.push({ path: file.path, backup: file.backup });
      continue;
    }
    mkdirSync(dirname(file.path), { recursive: true });
    copyFileSync(file.backup, file.path);
    outcome.restored.push(file.path);
  }
  renameSync(manifest, `${manifest.slice(0, -'.json'.length)}.undone`);
  return outcome;
}
