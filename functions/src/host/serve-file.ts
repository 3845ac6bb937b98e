import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What local km wrappers read to find the running stack (cli/src/config/settings.ts). */
export interface ServeFile {
  url: string;
  port: number;
  pid: number;
  orgId: string;
}

export const serveFilePath = (home: string) => join(home, 'serve.json');

/** Written whole or not at all (rename), so a wrapper starting at that moment never reads half a file. */
export function writeServeFile(home: string, content: ServeFile): void {
  const path = serveFilePath(home);
  const draft = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(draft, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    renameSync(draft, path);
  } catch (error) {
    // A failed start must not leave its draft behind (a full disk, a directory in the way of serve.json).
    rmSync(draft, { force: true });
    throw error;
  }
}

/** Another km serve may have started on this KM_HOME since: its serve.json is not ours to remove. */
export function removeServeFileIfOurs(home: string): void {
  const path = serveFilePath(home);
  try {
    const current = JSON.parse(readFileSync(path, 'utf8')) as Partial<ServeFile>;
    if (current.pid === process.pid) rmSync(path, { force: true });
  } catch {
    // Already gone or unreadable: nothing to clean up.
  }
}
