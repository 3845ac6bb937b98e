import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';

/** e2e tests run the built CLI exactly as a user's MCP client would. */
export const REPO_ROOT = join(__dirname, '..', '..');
export const KM_BIN = join(REPO_ROOT, 'cli', 'bin', 'km.js');
export const BIN_DIR = join(REPO_ROOT, 'node_modules', '.bin');

export function requireBuiltKm(): void {
  if (!existsSync(join(REPO_ROOT, 'cli', 'dist', 'bundle', 'km.js'))) throw new Error('cli/dist/bundle/km.js is missing: run `npm run build` first (npm test does).');
}

/** Polls until probe returns something other than undefined; the timeout only bounds a broken run. */
export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
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
  return runCommand(process.execPath, [KM_BIN, ...args], { env, input });
}

/**
 * Runs a command to completion with exactly this environment (and cwd), feeding it `input` on stdin. Spawned, never
 * synchronously: a host the command talks to may run in the test's own process.
 */
export function runCommand(command: string, args: string[], options: { env: Record<string, string>; cwd?: string; input?: string }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env, ...(options.cwd ? { cwd: options.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Every event in KM_HOME's spool files, in file order. */
export function spooledEvents(home: string): Array<Record<string, any>> {
  const dir = join(home, 'spool');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.jsonl'))
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** A port nothing listens on at the moment of asking (another process may take it before the caller does). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

/**
 * server-everything in its Streamable HTTP mode on a free port, once it listens: a remote MCP server for the tests
 * (it takes the port from PORT, so the port is found first and the start retried should another process take it).
 */
export async function startRemoteEverything(): Promise<{ port: number; child: ChildProcess }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(join(BIN_DIR, 'mcp-server-everything'), ['streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
    const exited = new Promise<'exited'>((resolve) => child.once('exit', () => resolve('exited')));
    const up = await Promise.race([until('the remote server to listen', () => listening(port), 30_000), exited]);
    if (up === true) return { port, child };
    if (attempt >= 2) throw new Error('server-everything (streamableHttp) did not start');
  }
}

function listening(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(undefined));
  });
}
