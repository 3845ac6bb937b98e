import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** e2e tests run the built CLI exactly as a user's MCP client would. */
export const REPO_ROOT = join(__dirname, '..', '..');
export const KM_BIN = join(REPO_ROOT, 'cli', 'bin', 'km.js');
export const BIN_DIR = join(REPO_ROOT, 'node_modules', '.bin');

export function requireBuiltKm(): void {
  if (!existsSync(join(REPO_ROOT, 'cli', 'dist', 'bundle', 'km.js'))) throw new Error('cli/dist/bundle/km.js is missing: run `npm run build` first (npm test does).');
}
