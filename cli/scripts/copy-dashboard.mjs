// Puts the built dashboard beside the km bundles, so a packed CLI (npm pack -w cli) serves it too.
import { cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(cli, '..', 'dashboard', 'dist');
const to = join(cli, 'dist', 'bundle', 'dashboard');
if (!existsSync(join(from, 'index.html'))) {
  console.error(`copy-dashboard: ${from} has no index.html; build the dashboard first (npm run build -w dashboard)`);
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
