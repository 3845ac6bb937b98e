import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DemoServer } from './facts';

/** How to start a server: a command line for StdioClientTransport (and for km, after its `--`). */
export interface ServerCommand {
  command: string;
  args: string[];
}

/**
 * A demo server's command line: its package's bin run with this Node when it is installed beside km (a clone, or
 * an install that has it), else the pinned version through npx, which downloads it once into npm's cache.
 */
export function serverCommand(server: DemoServer, from = __dirname): ServerCommand {
  const installed = installedBin(server, from);
  if (installed) return { command: process.execPath, args: [installed] };
  return { command: 'npx', args: ['-y', `${server.packageName}@${server.version}`] };
}

function installedBin(server: DemoServer, from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const packageDir = join(dir, 'node_modules', ...server.packageName.split('/'));
    const manifest = join(packageDir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
        const path = typeof bin === 'string' ? bin : bin?.[server.bin];
        if (path && existsSync(join(packageDir, path))) return join(packageDir, path);
      } catch {
        // An unreadable manifest: look further up, then fall back to npx.
      }
    }
    if (dirname(dir) === dir) return null;
  }
}
