import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BIN_DIR, KM_BIN, requireBuiltKm, runCommand, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 13: `km init` on a machine with Claude Code (its user file and a project's .mcp.json), VS Code (comments
 * and trailing commas) and Codex CLI configs, then
 * the wrapped entry started the way a client starts it (its own environment: only what the entry says), recording
 * into the KM_HOME km init was run with, through the MCP SDK's client and the MCP Inspector's CLI. A second run changes nothing; --undo puts the files back byte for byte.
 */
const km = (args: string[], cwd: string, env: Record<string, string>) => runCommand(process.execPath, [KM_BIN, ...args], { env, cwd });

describe('km init', () => {
  beforeAll(() => requireBuiltKm());

  it('wraps the servers of the configs it finds, and the wrapped entry records into its KM_HOME', async () => {
    const home = tempHome('km-init-home');
    const project = join(home, 'app');
    const kmHome = join(home, 'km-data'); // not ~/.km: the client would not pass it, so the entry must
    mkdirSync(project);
    mkdirSync(join(home, '.codex'));
    mkdirSync(join(home, '.config', 'Code', 'User'), { recursive: true });
    const claude = join(home, '.claude.json');
    const vscode = join(home, '.config', 'Code', 'User', 'mcp.json');
    const mcpJson = join(project, '.mcp.json');
    const codex = join(home, '.codex', 'config.toml');
    const originals = {
      // Claude Code reads plain JSON; VS Code takes comments and trailing commas, which km keeps.
      [claude]: `{\n  "mcpServers": {\n    "everything-entry": {\n      "command": "${join(BIN_DIR, 'mcp-server-everything')}",\n      "args": ["stdio"]\n    }\n  }\n}\n`,
      [vscode]: `{\n  // my servers\n  "servers": {\n    "everything-vscode": {\n      "command": "${join(BIN_DIR, 'mcp-server-everything')}",\n      "args": ["stdio"],\n    },\n  },\n}\n`,
      // The team's file: with no km on the PATH its entries would name this machine's paths, so they are kept.
      [mcpJson]: `{ "mcpServers": { "team-entry": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"] } } }\n`,
      [codex]: 'model = "o3"\n\n[mcp_servers.mem]\ncommand = "npx"\nargs = ["-y", "@modelcontextprotocol/server-memory"]\n',
    };
    for (const [path, text] of Object.entries(originals)) writeFileSync(path, text);
    // No km on this PATH: km init falls back to node and this km's bin script.
    // An endpoint nothing listens on: the sessions stay in the spool, where the test reads them (and a km serve that
    // may run on this machine's default port never gets them). km init writes it into the entry, as it does KM_HOME.
    const endpoint = 'http://127.0.0.1:9';
    const env = { HOME: home, PATH: dirname(process.execPath), KM_HOME: kmHome, KM_ENDPOINT: endpoint };

    const dry = await km(['init', '--dry-run'], project, env);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('wrap everything-entry (mcpServers)');
    expect(dry.stdout).toContain('wrap mem (mcp_servers)');
    expect(dry.stdout).toContain(`keep team-entry: a project file, which the team shares, would name this machine's path to km (${KM_BIN}) and its KM_HOME (${kmHome}); put km on the PATH`);
    expect(dry.stdout).toMatch(/^ {4}\+ .*"--name", "everything-entry", "--"/m);
    expect(readFileSync(claude, 'utf8')).toBe(originals[claude]); // a dry run writes nothing

    const refused = await km(['init'], project, env); // no terminal to ask on, no --yes
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('add --yes');

    const wrote = await km(['init', '--yes'], project, env);
    expect(wrote.status).toBe(0);
    expect(wrote.stdout).toContain(`wrote ${claude} (backup: ${claude}.km-backup-`);
    expect(readFileSync(mcpJson, 'utf8')).toBe(originals[mcpJson]);
    const written = readFileSync(claude, 'utf8');
    expect(readFileSync(vscode, 'utf8')).toContain('// my servers');
    expect(new Function(`return (${readFileSync(vscode, 'utf8')})`)().servers['everything-vscode'].args).toContain('everything-vscode');
    const entry = JSON.parse(written).mcpServers['everything-entry'];
    expect(entry).toEqual({ command: process.execPath, args: [KM_BIN, '--name', 'everything-entry', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'], env: { KM_HOME: kmHome, KM_ENDPOINT: endpoint } });
    expect(readFileSync(codex, 'utf8')).toContain(`args = [ "${KM_BIN}", "--name", "mem", "--", "npx", "-y", "@modelcontextprotocol/server-memory" ]`);

    // Started as a client starts it: the entry's command, args and env, nothing of this test's environment.
    const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { PATH: dirname(process.execPath), ...entry.env }, stderr: 'ignore' });
    const client = new Client({ name: 'km-init-e2e', version: '1.0.0' });
    await client.connect(transport);
    expect((await client.callTool({ name: 'echo', arguments: { message: 'wrapped by km init' } })).isError).toBeFalsy();
    await client.close();
    // And by the MCP Inspector's CLI (npm), given the entry's command, args and env. (Its --config reading of the
    // same entry cannot be used: 0.15 splits its own argv at the first "--", which km's entries carry.)
    const inspector = await runCommand(join(BIN_DIR, 'mcp-inspector-cli'), ['--cli', ...Object.entries(entry.env as Record<string, string>).flatMap(([k, v]) => ['-e', `${k}=${v}`]), entry.command, ...entry.args, '--method', 'tools/list'], {
      cwd: project,
      env: { PATH: dirname(process.execPath), HOME: home },
    });
    expect(inspector.stderr).toBe('');
    expect(inspector.status).toBe(0);
    expect((JSON.parse(inspector.stdout) as { tools: Array<{ name: string }> }).tools.map((t) => t.name)).toContain('echo');
    const servers = await until('both sessions in the KM_HOME km init wrote into the entry', () => {
      const dir = join(kmHome, 'spool');
      if (!existsSync(dir)) return undefined;
      const events = readdirSync(dir)
        .filter((n) => n.endsWith('.jsonl'))
        .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
        .map((line) => JSON.parse(line) as { type: string; server: { name: string } });
      return events.filter((e) => e.type === 'session.ended').length === 2 ? new Set(events.map((e) => e.server.name)) : undefined;
    });
    expect([...servers]).toEqual(['everything-entry']);

    const doctor = await km(['doctor'], project, env);
    expect(doctor.stdout).toContain(`ok    Claude Code (user and local scopes): everything-entry: wrapped, runs ${join(BIN_DIR, 'mcp-server-everything')}\n`);
    expect(doctor.stdout).toContain('warn  endpoint http://127.0.0.1:9: reachable no (nothing listens)');
    expect(doctor.stdout).toContain('warn  Claude Code (project .mcp.json): team-entry is not wrapped (not recorded)');
    expect(doctor.stdout).toContain('put km on the PATH (npm i -g) and leave KM_HOME at its default, then km init --server team-entry');
    expect(doctor.stdout).toContain('km doctor: 0 problem(s), 2 warning(s)');

    const again = await km(['init', '--yes'], project, env);
    expect(again.stdout).toContain('km init: 1 server(s) are left unwrapped, for the reasons given (see above); nothing else to change');
    expect(again.stdout).not.toContain('wrapped already');
    expect(readFileSync(claude, 'utf8')).toBe(written);

    const undo = await km(['init', '--undo'], project, env);
    expect(undo.status).toBe(0);
    for (const [path, text] of Object.entries(originals)) expect(readFileSync(path, 'utf8')).toBe(text);
  }, 60_000);

  it('under npx (km only in the node_modules/.bin npx put on the PATH) writes node and this km, which a client can start', async () => {
    const home = tempHome('km-init-npx');
    const project = join(home, 'app');
    const npxBin = join(project, 'node_modules', '.bin');
    mkdirSync(npxBin, { recursive: true });
    // As npm links it: .bin/km -> the package's bin/km.js, which node runs through the link.
    symlinkSync(KM_BIN, join(npxBin, 'km'));
    mkdirSync(join(home, '.cursor'));
    const cursor = join(home, '.cursor', 'mcp.json');
    writeFileSync(cursor, JSON.stringify({ mcpServers: { mem: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] } } }));
    const env = { HOME: home, PATH: `${npxBin}:${dirname(process.execPath)}`, KM_HOME: join(home, '.km') };
    // Started as npx starts it: the .bin/km link found on that PATH.
    const viaNpx = (args: string[]) => runCommand(join(npxBin, 'km'), args, { env, cwd: project });
    const wrote = await viaNpx(['init', '--yes', '--client', 'cursor']);
    expect(wrote.status).toBe(0);
    const entry = JSON.parse(readFileSync(cursor, 'utf8')).mcpServers.mem;
    expect(entry).toMatchObject({ command: process.execPath, args: [realpathSync(KM_BIN), '--name', 'mem', '--', 'npx', '-y', '@modelcontextprotocol/server-memory'] });
    // A second run knows the entry as km's, and km doctor finds it wrapped.
    expect((await viaNpx(['init', '--yes', '--client', 'cursor'])).stdout).not.toContain('wrote');
    expect(JSON.parse(readFileSync(cursor, 'utf8')).mcpServers.mem).toEqual(entry);
    expect((await viaNpx(['doctor'])).stdout).toMatch(/Cursor \(user\): mem: wrapped, runs npx/);
  });

  it('leaves a config it cannot parse untouched, says where, and still wraps the others', async () => {
    const home = tempHome('km-init-broken');
    mkdirSync(join(home, '.cursor'));
    mkdirSync(join(home, '.gemini'));
    const broken = '{ "mcpServers": { "a": { "command": "x" }\n';
    writeFileSync(join(home, '.cursor', 'mcp.json'), broken);
    writeFileSync(join(home, '.gemini', 'settings.json'), JSON.stringify({ mcpServers: { b: { command: 'y' } } }));
    const env = { HOME: home, PATH: dirname(process.execPath), KM_HOME: join(home, '.km') };
    // Alone, the broken file leaves nothing to change: the summary says why, and a dry run fails as a real run does.
    for (const args of [['--dry-run'], ['--yes']]) {
      const cursorOnly = await km(['init', ...args, '--client', 'cursor'], home, env);
      expect(cursorOnly.stderr).toBe(`km init: ${join(home, '.cursor', 'mcp.json')}:2:1: expected a closing brace }; left untouched\n`);
      expect(cursorOnly.stdout).toBe('km init: 1 config(s) could not be read (see above); nothing else to change\n');
      expect(cursorOnly.status).toBe(1);
    }
    // A server name no entry has: said once, with the names there are, and nothing else.
    const nope = await km(['init', '--dry-run', '--client', 'gemini', '--server', 'nope'], home, env);
    expect(nope.stdout).toBe('');
    expect(nope.stderr).toBe('km: no server entry named "nope" in the configs found (the entries found are "b"); nothing changed\n');
    expect(nope.status).toBe(1);
    const run = await km(['init', '--yes', '--client', 'cursor', 'gemini'], home, { HOME: home, PATH: dirname(process.execPath), KM_HOME: join(home, '.km') });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${join(home, '.cursor', 'mcp.json')}:2:1: expected a closing brace }; left untouched`);
    expect(run.stdout).toContain('km init: 1 config(s) could not be read (see above)\n');
    expect(readFileSync(join(home, '.cursor', 'mcp.json'), 'utf8')).toBe(broken);
    expect(JSON.parse(readFileSync(join(home, '.gemini', 'settings.json'), 'utf8')).mcpServers.b.args).toEqual([KM_BIN, '--name', 'b', '--', 'y']);
    const readOnly = join(home, '.codeium', 'windsurf', 'mcp_config.json');
    mkdirSync(dirname(readOnly), { recursive: true });
    writeFileSync(readOnly, JSON.stringify({ mcpServers: { w: { command: 'w' } } }));
    chmodSync(readOnly, 0o444);
    const locked = await km(['init', '--yes', '--client', 'windsurf'], home, { HOME: home, PATH: dirname(process.execPath), KM_HOME: join(home, '.km') });
    expect(locked.stderr).toContain(`${readOnly} is read-only; left untouched`);
    expect(JSON.parse(readFileSync(readOnly, 'utf8')).mcpServers.w).toEqual({ command: 'w' });
    const unknown = await km(['init', '--client', 'notepad'], home, { HOME: home, PATH: dirname(process.execPath) });
    expect(unknown.stderr).toContain('unknown client "notepad": use claude-desktop, claude-code, cursor, vscode, windsurf, gemini, codex');
  });
});
