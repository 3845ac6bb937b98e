import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { KM_BIN, requireBuiltKm } from './e2e-support';
import { tempHome } from './helpers';

/** util-linux's script(1) gives the command a real terminal on stdin, as a person typing km would have. */
const SCRIPT = '/usr/bin/script';

describe('km typed at a terminal', () => {
  beforeAll(() => {
    requireBuiltKm();
    if (!existsSync(SCRIPT)) throw new Error('this test needs script(1) from util-linux (Debian: bsdutils)');
  });

  const inTerminal = (words: string) => {
    const home = tempHome('km-tty');
    const run = spawnSync(SCRIPT, ['-qec', `${process.execPath} ${KM_BIN} ${words}; echo "exit=$?"`, '/dev/null'], { env: { ...process.env, KM_HOME: home, HOME: home }, encoding: 'utf8', timeout: 60_000 });
    return run.stdout;
  };

  it('runs km init for km init, never /sbin/init (HOME is empty here: no client config to change)', () => {
    const out = inTerminal('init');
    expect(out).toContain('km init: no MCP client config found');
    expect(out).toContain('exit=0');
  });

  it('keeps a word km has planned for a command: km export does not run a program called export', () => {
    const out = inTerminal('export');
    expect(out).toContain('"export" is a km command this version does not have yet');
    expect(out).toContain('exit=2');
  });

  it('does not start a server, and says what was probably meant', () => {
    const out = inTerminal('stauts');
    expect(out).toContain('stdin is a terminal');
    expect(out).toContain('did you mean km status?');
    expect(out).toContain('exit=2');
  });
});

describe('km --help', () => {
  it('documents the wrap options, which are not a commander command', () => {
    const run = spawnSync(process.execPath, [KM_BIN, '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/--project P\s+the project/);
    expect(run.stdout).toMatch(/--name N\s+the server's name/);
  });

  it('ends quietly when its reader has closed the pipe (km --help | head -1)', () => {
    // python3 (node-gyp's, on every machine that builds better-sqlite3) hands km a pipe whose read end is already
    // closed, so the first write fails for certain.
    const closedPipe = 'import os,subprocess,sys; r,w=os.pipe(); os.close(r); sys.exit(subprocess.run(sys.argv[1:], stdout=w).returncode)';
    const run = spawnSync('python3', ['-c', closedPipe, process.execPath, KM_BIN, '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('names km demo, for someone with no MCP client yet', () => {
    const run = spawnSync(process.execPath, [KM_BIN, '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).toMatch(/^  demo \[options\]\s+Record a scripted agent session/m);
    expect(run.stdout).toContain('No MCP client yet? km demo');
  });
});
