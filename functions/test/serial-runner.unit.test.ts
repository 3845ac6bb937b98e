import { startSerialRunner, type Scheduler } from '../src/host/serial-runner';

/** A timer that never fires by itself: these tests drive the runner with notify(). */
const manual: Scheduler = { setTimeout: () => null, clearTimeout: () => {} };

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('a serial runner held by exclusive()', () => {
  it('waits for the run in flight, starts none while held, and runs once after for the notifies meanwhile', async () => {
    const log: string[] = [];
    const first = gate();
    let runs = 0;
    const runner = startSerialRunner({
      intervalMs: 1e9,
      scheduler: manual,
      run: async () => {
        const n = ++runs;
        log.push(`run ${n} starts`);
        if (n === 1) await first.opened;
        log.push(`run ${n} ends`);
      },
    });
    // The start's run is in flight and waits on the gate.
    const held = runner.exclusive(async () => {
      log.push('held');
      runner.notify();
      runner.notify();
      await new Promise((resolve) => setImmediate(resolve));
      log.push('released');
      return 42;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['run 1 starts']);
    first.open();
    expect(await held).toBe(42);
    await runner.idle();
    expect(log).toEqual(['run 1 starts', 'run 1 ends', 'held', 'released', 'run 2 starts', 'run 2 ends']);
    await runner.stop();
  });
});
