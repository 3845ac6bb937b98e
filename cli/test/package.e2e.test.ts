import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BIN_DIR, REPO_ROOT, requireBuiltKm, spooledEvents, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 13: km as a user installs it. The CLI is packed, install.sh installs the tarball into a fresh npm prefix
 * without building SQLite (what only km serve needs), and the installed km wraps a real
 * server, has help for every command, and says what km serve lacks instead of crashing.
 */
describe('the installable km', () => {
  beforeAll(() => requireBuiltKm());

  it('installs from its packed tarball with install.sh, and wraps without any native module', async () => {
    const root = tempHome('km-package');
    const prefix = join(root, 'prefix');
    const home = join(root, 'home');
    mkdirSync(home);
    const pack = spawnSync('npm', ['pack', '-w', 'cli', '--pack-destination', root, '--json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(pack.status).toBe(0);
    const tarball = join(root, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0]!.filename);
    const env = {
      ...process.env, // the machine's npm settings: proxy, certificates
      npm_config_userconfig: process.env.npm_config_userconfig ?? join(homedir(), '.npmrc'),
      PATH: [join(prefix, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      HOME: home,
      KM_HOME: join(home, '.km'),
      NPM_CONFIG_PREFIX: prefix,
      npm_config_cache: join(homedir(), '.npm'), // the machine's cache: the tarball needs nothing else offline
      KM_PACKAGE: tarball,
      KM_INSTALL_FLAGS: '--ignore-scripts', // SQLite is not built: what only km serve needs
    };
    const install = spawnSync('sh', [join(REPO_ROOT, 'install.sh')], { env, encoding: 'utf8', timeout: 300_000, input: '' });
    expect(install.stderr + install.stdout).toContain('km install: installed 0.1.0 at');
    expect(install.status).toBe(0);
    expect(install.stdout).toContain('km init: no MCP client config found'); // km init ran, on an empty HOME
    const km = join(prefix, 'bin', 'km');
    const packageDir = join(prefix, 'lib', 'node_modules', '@kilometers', 'km');
    expect(existsSync(join(packageDir, 'node_modules', 'better-sqlite3', 'build'))).toBe(false);
    // Without SQLite built, install.sh says so rather than "done. Start the dashboard with: km serve".
    expect(install.stdout).toContain('km install: note: better-sqlite3 did not build here, so km serve (the dashboard) cannot run; wrapping works.');
    expect(install.stdout).toContain('km install: done, without km serve (see the note above).');
    expect(spawnSync(join(prefix, 'bin', 'km'), ['doctor'], { env, encoding: 'utf8' }).stdout).toMatch(/km serve's database \(better-sqlite3\) does not load on Node/);

    const help = spawnSync(km, ['--help'], { env, encoding: 'utf8' });
    for (const command of ['init', 'doctor', 'serve', 'flush', 'status', 'login', 'dashboard']) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(help.stdout).toContain('--url URL');

    // From a project whose km.json prices its tools: the installed bundle loads the schema from its own file.
    const project = join(root, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'km.json'), JSON.stringify({ model: 'house-model', pricing: { 'house-model': { input: 0, output: 0 } }, toolCosts: { 'everything/echo': 0.25 } }));
    const transport = new StdioClientTransport({ command: km, args: ['--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'], env: { ...env, KM_ENDPOINT: 'http://127.0.0.1:9' }, cwd: project, stderr: 'ignore' });
    const client = new Client({ name: 'km-package-e2e', version: '1.0.0' });
    await client.connect(transport);
    expect(await client.callTool({ name: 'echo', arguments: { message: 'installed' } })).toMatchObject({ content: [{ text: 'Echo: installed' }] });
    await client.close();
    const priced = await until('the priced echo call in the spool', () =>
      spooledEvents(env.KM_HOME).find((event) => event.type === 'mcp.interaction' && event.method === 'tools/call' && event.target === 'echo'),
    );
    expect(priced).toMatchObject({ model: 'house-model', costUsd: 0.25 });

    const status = spawnSync(km, ['status'], { env: { ...env, KM_ENDPOINT: 'http://127.0.0.1:9' }, encoding: 'utf8' });
    expect(status.status).toBe(0);
    const serve = spawnSync(km, ['serve', '--port', '0'], { env, encoding: 'utf8', timeout: 60_000 });
    expect(serve.status).toBe(1);
    expect(serve.stderr).toMatch(/^km: km serve needs better-sqlite3, which is missing or not built for Node/m);
  }, 400_000);
});
