import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** e2e tests run the built CLI exactly as a user's MCP client would. */
export const REPO_ROOT = join(__dirname, '..', '..');
export const KM_BIN = join(REPO_ROOT, 'cli', 'bin', 'km.js');
export const BIN_DIR = join(REPO_ROOT, 'node_modules', '.bin');

export function requireBuiltKm(): void {
  if (!existsSync(join(REPO_ROOT, 'cli', 'dist', 'bundle', 'km.js'))) throw new Error('cli/dist/bundle/km.js is missing: run `npm run build` first (npm test does).');
}

/** Polls until probe returns something other than undefined; the timeout only bounds a broken run. */
export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET on the embedded host's API, as JSON. */
export async function getJson(baseUrl: string, path: string): Promise<any> {
  return (await fetch(`${baseUrl}${path}`)).json();
}

/** Runs the built km to completion with exactly this environment, feeding it `input` on stdin. */
export function runKm(args: string[], env: Record<string, string>, input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KM_BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}
