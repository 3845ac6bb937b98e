import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeEndpoint } from '../config/endpoint-probe';
import { ensureHome, localStack } from '../config/settings';

/** The local km serve the demo records into: where it listens, its key, and whether the demo started it. */
export interface LocalStack {
  url: string;
  apiKey: string | null;
  started: boolean;
}

const START_DEADLINE_MS = 30_000;

/** The km serve that KM_HOME's serve.json names (`pid`, when given, must be its), when it answers; else null. */
async function answeringLocalStack(home: string, pid?: number): Promise<Omit<LocalStack, 'started'> | null> {
  const local = localStack(home);
  if (!local || (pid !== undefined && local.pid !== pid)) return null;
  const reach = await probeEndpoint(local.url, local.apiKey);
  return reach.kind === 'ok' ? { url: local.url, apiKey: local.apiKey } : null;
}

/**
 * The running km serve of this KM_HOME, or a new one started detached on `port` (it outlives km demo, so the
 * dashboard keeps answering), its output in KM_HOME/demo-serve.log. Resolves once its serve.json names it and its API
 * answers; throws with the log's address when it exits first (the port taken, SQLite missing).
 */
export async function ensureLocalStack(home: string, port: number): Promise<LocalStack> {
  const running = await answeringLocalStack(home);
  if (running) return { ...running, started: false };
  ensureHome(home);
  const logPath = join(home, 'demo-serve.log');
  const log = openSync(logPath, 'a');
  // This bundle's km.js: the same km that runs the demo, wherever it is installed.
  const child = spawn(process.execPath, [join(__dirname, 'km.js'), 'serve', '--port', String(port)], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, KM_HOME: home },
    windowsHide: true,
  });
  closeSync(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();

  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (exited !== undefined) throw new Error(`km serve stopped at start (exit code ${exited}); see ${logPath}${lastLine(logPath)}`);
    const ours = await answeringLocalStack(home, child.pid);
    if (ours) return { ...ours, started: true };
    if (Date.now() > deadline) throw new Error(`km serve (pid ${child.pid}) did not answer within ${START_DEADLINE_MS / 1000} s; see ${logPath}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The reason km serve printed, so the one-line error says it without opening the log. */
function lastLine(path: string): string {
  try {
    const line = readFileSync(path, 'utf8').trim().split('\n').pop()?.trim();
    return line ? ` (${line})` : '';
  } catch {
    return '';
  }
}
