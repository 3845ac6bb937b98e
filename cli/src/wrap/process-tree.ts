import { spawnSync } from 'node:child_process';

/**
 * The processes below pid (its children, theirs, ...), as ps lists them now; empty where ps cannot say (Windows, no
 * ps). A server started through `npx` or a shell script is a grandchild of km: its launcher may exit on a signal
 * and leave it running, re-parented, where killing km's own child cannot reach it.
 */
export function descendantsOf(pid: number): number[] {
  if (process.platform === 'win32') return [];
  const ps = spawnSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8', timeout: 2000 });
  if (ps.status !== 0 || typeof ps.stdout !== 'string') return [];
  const children = new Map<number, number[]>();
  for (const line of ps.stdout.split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (!child || parent === undefined || Number.isNaN(parent)) continue;
    const list = children.get(parent);
    if (list) list.push(child);
    else children.set(parent, [child]);
  }
  const found: number[] = [];
  for (const queue = [pid]; queue.length > 0; ) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The ones of pids still running, each sent SIGKILL. */
export function killRunning(pids: readonly number[]): number[] {
  const running = pids.filter(alive);
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return running;
}
