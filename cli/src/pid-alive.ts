/**
 * Whether a process with this pid runs (EPERM: it does, as another user's): a spool file or journal named after a
 * dead km is an orphan, a serve.json of a dead km serve a leftover.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
