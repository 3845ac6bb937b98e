import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings } from '../src/config/settings';
import { clientChecks, configuredServers, endpointCheck, nodeCheck, sqliteCheck, startFailureChecks } from '../src/doctor/checks';
import { tempHome } from './helpers';

/** A PATH directory under home holding these commands (empty scripts). */
function binWith(home: string, names: string[]): string {
  const bin = join(home, 'bin');
  mkdirSync(bin);
  for (const name of names) {
    writeFileSync(join(bin, name), '#!/bin/sh\n');
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

/** Issue 13: km doctor's view of each client entry, the endpoint, and Node. */
describe("km doctor's check of km serve's database", () => {
  it('says km serve cannot run where better-sqlite3 was not built, and how to mend it', () => {
    expect(sqliteCheck()).toMatchObject({ status: 'ok' });
    const unbuilt = () => {
      throw new Error("Could not locate the bindings file. Tried:\n -> /x/better_sqlite3.node");
    };
    expect(sqliteCheck(unbuilt)).toEqual({
      status: 'warn',
      what: expect.stringContaining("km serve's database (better-sqlite3) does not load on Node"),
      fix: expect.stringContaining('npm install -g --allow-scripts=better-sqlite3'),
    });
  });
});

describe('km doctor', () => {
  it('tells a wrapped entry from an unwrapped one, a missing command, and one recording into another KM_HOME', () => {
    const home = tempHome('km-doctor');
    const bin = binWith(home, ['km', 'good-server']);
    mkdirSync(join(home, '.cursor'));
    const kmHome = join(home, 'km-data');
    writeFileSync(
      join(home, '.cursor', 'mcp.json'),
      JSON.stringify({
        mcpServers: {
          good: { command: 'km', args: ['--name', 'good', '--', 'good-server'], env: { KM_HOME: kmHome } },
          plain: { command: 'good-server' },
          gone: { command: 'km', args: ['--', 'no-such-server'], env: { KM_HOME: kmHome } },
          elsewhere: { command: 'km', args: ['--', 'good-server'] },
          stale: { command: '/usr/bin/node', args: [join(home, 'old', 'bin', 'km.js'), '--', 'good-server'], env: { KM_HOME: kmHome } },
        },
      }),
    );
    const checks = clientChecks({ home, cwd: home, platform: 'linux' } /* cwd = home: its project files are the user's, checked once */, loadSettings({ KM_HOME: kmHome }), bin);
    expect(checks.map((c) => [c.status, c.what.replace(home, '~')])).toEqual([
      ['ok', 'Cursor (user): good: wrapped, runs good-server'],
      ['warn', 'Cursor (user): plain is not wrapped (not recorded)'],
      ['fail', 'Cursor (user): gone: the server\'s command "no-such-server" is not found'],
      ['warn', expect.stringMatching(/^Cursor \(user\): elsewhere records into .*\.km, not this KM_HOME/)],
      ['fail', expect.stringMatching(/^Cursor \(user\): stale: km is not found where the entry starts it/)],
    ]);
    expect(checks[1]!.fix).toBe('km init --server plain');
  });

  it('fails an entry whose km (or server) is found only in a node_modules/.bin that npx put on this PATH: a client does not search it', () => {
    const home = tempHome('km-doctor-npx');
    const bin = binWith(home, ['good-server']);
    const npxBin = join(home, 'app', 'node_modules', '.bin');
    mkdirSync(npxBin, { recursive: true });
    for (const name of ['km', 'local-server']) {
      writeFileSync(join(npxBin, name), '#!/bin/sh\n');
      chmodSync(join(npxBin, name), 0o755);
    }
    const kmHome = join(home, 'km-data');
    mkdirSync(join(home, '.cursor'));
    writeFileSync(join(home, '.cursor', 'mcp.json'), JSON.stringify({ mcpServers: { viaNpx: { command: 'km', args: ['--', 'good-server'], env: { KM_HOME: kmHome } } } }));
    const checks = clientChecks({ home, cwd: home, platform: 'linux' }, loadSettings({ KM_HOME: kmHome }), `${npxBin}:${bin}`);
    expect(checks.map((c) => [c.status, c.what])).toEqual([['fail', expect.stringContaining('viaNpx: "km" is found only in a node_modules/.bin that npx or npm put on this shell\'s PATH')]]);
    expect(checks[0]!.fix).toContain('not under npx');
  });

  it("warns that Gemini CLI starts km without the shell's KM_API_KEY, unless km login saved it or the entry sets it", () => {
    const home = tempHome('km-doctor-gemini');
    const bin = binWith(home, ['km', 'good-server']);
    const kmHome = join(home, 'km-data');
    mkdirSync(join(home, '.gemini'));
    const servers = {
      fromShell: { command: 'km', args: ['--', 'good-server'], env: { KM_HOME: kmHome } },
      ownKey: { command: 'km', args: ['--', 'good-server'], env: { KM_HOME: kmHome, KM_API_KEY: 'km_live_entry' } },
    };
    writeFileSync(join(home, '.gemini', 'settings.json'), JSON.stringify({ mcpServers: servers }));
    const shell = { KM_HOME: kmHome, KM_API_KEY: 'km_live_shell' };
    const checks = () => clientChecks({ home, cwd: home, platform: 'linux' }, loadSettings(shell), bin, shell).map((c) => [c.status, c.what.replace(home, '~')]);
    expect(checks()).toEqual([
      ['warn', expect.stringMatching(/^Gemini CLI \(user\): fromShell: wrapped, but Gemini CLI does not pass KM_API_KEY/)],
      ['ok', 'Gemini CLI (user): ownKey: wrapped, runs good-server'],
    ]);
    // km login saved the same key: km finds it without the environment.
    mkdirSync(kmHome, { recursive: true });
    writeFileSync(join(kmHome, 'login.json'), JSON.stringify({ endpoint: 'http://127.0.0.1:7777', apiKey: 'km_live_shell' }));
    expect(checks().map(([status]) => status)).toEqual(['ok', 'ok']);
  });

  it('fails a server km could not start when a config names it, and only warns of a one-off run no config names', () => {
    const home = tempHome('km-doctor-failures');
    mkdirSync(join(home, '.cursor'));
    writeFileSync(
      join(home, '.cursor', 'mcp.json'),
      JSON.stringify({
        mcpServers: {
          fs: { command: 'km', args: ['--name', 'files', '--', 'npx', '-y', '@modelcontextprotocol/server-filesystem'] },
          derived: { command: '/usr/bin/node', args: ['/opt/km/bin/km.js', '--', 'uvx', 'mcp-server-git'] },
          plain: { command: 'plain-server' },
        },
      }),
    );
    const configured = configuredServers({ home, cwd: home, platform: 'linux' });
    expect([...configured].sort()).toEqual(['derived', 'files', 'fs', 'mcp-server-git', 'plain']);
    const failure = (server: string) => ({ server, reason: `cannot start "${server}": command not found (ENOENT)`, count: 1, lastAt: '2026-12-04T10:00:00.000Z' });
    expect(startFailureChecks([failure('files'), failure('mcp-server-git'), failure('statsu')], configured)).toEqual([
      expect.objectContaining({ status: 'fail', what: expect.stringMatching(/^server files: /), fix: expect.stringContaining('fix the command of "files"') }),
      expect.objectContaining({ status: 'fail', what: expect.stringMatching(/^server mcp-server-git: /) }),
      { status: 'warn', what: 'server statsu: cannot start "statsu": command not found (ENOENT), last at 2026-12-04T10:00:00.000Z: a one-off run, not in any MCP client config found' },
    ]);
  });

  it('says a file the client cannot read either, and that there is nothing to check', () => {
    const home = tempHome('km-doctor-broken');
    expect(clientChecks({ home, cwd: home, platform: 'linux' }, loadSettings({ KM_HOME: home }), '')).toEqual([expect.objectContaining({ status: 'warn', what: 'no MCP client config with servers found' })]);
    writeFileSync(join(home, '.claude.json'), '{ "mcpServers": ');
    expect(clientChecks({ home, cwd: home, platform: 'linux' }, loadSettings({ KM_HOME: home }), '')).toEqual([
      expect.objectContaining({ status: 'fail', what: expect.stringContaining('.claude.json:1:17: expected a value') }),
    ]);
  });

  it('knows Node versions and an endpoint that does not answer', async () => {
    expect(nodeCheck('18.19.0').status).toBe('fail');
    expect(nodeCheck('20.20.2').status).toBe('ok');
    const check = await endpointCheck(loadSettings({ KM_HOME: tempHome('km-doctor-ep'), KM_ENDPOINT: 'http://127.0.0.1:9' }));
    expect(check).toMatchObject({ status: 'warn', what: 'endpoint http://127.0.0.1:9: reachable no (nothing listens)' });
  });
});
