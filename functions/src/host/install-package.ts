import { execFile } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';

/** Where a km serve offers the km it runs, for a teammate's `npm i -g <url>` (the first run's command). */
export const INSTALL_PATH = '/install/km.tgz';

/**
 * The km package this server runs (its directory: package.json, bin, dist/bundle), packed by npm once per build
 * into KM_HOME/install and served from there: a teammate installs the same km from the team's own server, with
 * nothing to fetch for the wrapper (the package's one dependency, better-sqlite3, is optional and only km serve's).
 */
export class InstallPackage {
  private packing: Promise<string> | null = null;

  constructor(
    private readonly packageDir: string,
    private readonly cacheDir: string,
  ) {}

  /** The tarball's path, packed now if this build has none yet. */
  tarball(): Promise<string> {
    const target = join(this.cacheDir, `km-${this.buildStamp()}.tgz`);
    if (existsSync(target)) return Promise.resolve(target);
    this.packing ??= this.pack(target).finally(() => (this.packing = null));
    return this.packing;
  }

  /** The version and the bundle's mtime: a rebuilt km in a clone is packed again. */
  private buildStamp(): string {
    const { version } = JSON.parse(readFileSync(join(this.packageDir, 'package.json'), 'utf8')) as { version: string };
    const bundle = join(this.packageDir, 'dist', 'bundle', 'km.js');
    return `${version}-${existsSync(bundle) ? Math.floor(statSync(bundle).mtimeMs) : 0}`;
  }

  private async pack(target: string): Promise<string> {
    const dir = join(this.cacheDir, `packing-${process.pid}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('npm', ['pack', this.packageDir, '--pack-destination', dir, '--json', '--ignore-scripts'], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, out, err) =>
        error ? reject(new Error(`npm pack failed: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'npm is not on the PATH of km serve' : err.trim() || error.message}`)) : resolve(out),
      );
    });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
    if (!packed) throw new Error('npm pack wrote no tarball');
    renameSync(join(dir, packed.filename), target);
    return target;
  }
}

/** GET /install/km.tgz: the tarball, or a 503 that says why this server cannot offer one. */
export async function serveInstallPackage(install: InstallPackage | undefined, res: ServerResponse, headOnly: boolean): Promise<void> {
  let path: string;
  try {
    if (!install) throw new Error('this server does not know where its km package is');
    path = await install.tarball();
  } catch (error) {
    const text = `km serve cannot offer its package here (${(error as Error).message}): install km from npm or from a tarball, as the README says.\n`;
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-content-type-options': 'nosniff' });
    return void res.end(headOnly ? undefined : text);
  }
  res.writeHead(200, {
    'content-type': 'application/gzip',
    'content-length': statSync(path).size,
    'content-disposition': 'attachment; filename="km.tgz"',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (headOnly) return void res.end();
  await new Promise<void>((resolve, reject) => createReadStream(path).on('error', reject).on('end', resolve).pipe(res));
}
