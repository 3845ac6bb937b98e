import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientConfigs, type ClientConfig } from '../src/init/clients';
import { editConfig, entryValue, type FileEdit } from '../src/init/config-edit';
import { planEntry, type Launcher } from '../src/init/entry';
import { stampNow, undoLatestRun, writeRun } from '../src/init/init-runs';
import { lineDiff } from '../src/init/line-diff';
import { tempHome } from './helpers';

/** Issue 13: km init's edits of client configs, its diff and its undo. */
const launcher: Launcher = { command: 'km', argsPrefix: [] };
const configs = clientConfigs({ home: '/home/u', cwd: '/work/app', platform: 'linux' });
const configOf = (label: string) => configs.find((c) => c.label.startsWith(label))!;
const edit = (config: ClientConfig, text: string, env: Record<string, string> = {}, wanted = (_: string) => true) =>
  editConfig(config, text, (name, entry) => planEntry(name, entry, launcher, env), wanted);
const after = (result: FileEdit) => {
  if ('problem' in result) throw new Error(result.problem);
  return result.after;
};

describe('km init: wrapping entries', () => {
  const cursor = `{
  // servers for this machine
  "mcpServers": {
    "fs": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."], "env": { "ROOT": "/srv" } },
    "docs": { "url": "https://example.com/mcp" }, // remote
    "odd": { "command": 42 },
  },
}
`;

  it('changes only command, args and env of stdio entries, keeping comments, trailing commas and layout', () => {
    const result = edit(configOf('Cursor (user)'), cursor, { KM_HOME: '/data/km' });
    expect(after(result)).toBe(
      cursor
        .replace(
          '"fs": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."], "env": { "ROOT": "/srv" } }',
          '"fs": { "command": "km", "args": ["--name", "fs", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", "."], "env": { "ROOT": "/srv", "KM_HOME": "/data/km" } }',
        )
        .replace('"docs": { "url": "https://example.com/mcp" }', '"docs": { "command": "km", "args": ["--name", "docs", "--url", "https://example.com/mcp"], "env": { "KM_HOME": "/data/km" } }'),
    );
    expect('entries' in result && result.entries.map((e) => [e.name, e.plan.kind])).toEqual([
      ['fs', 'wrap'],
      ['docs', 'wrap'],
      ['odd', 'skip'],
    ]);
  });

  it('changes nothing on a second run', () => {
    const once = after(edit(configOf('Cursor (user)'), cursor));
    expect(after(edit(configOf('Cursor (user)'), once))).toBe(once);
  });

  it("wraps Claude Code's user servers and each project's, and VS Code's `servers`, adding env in the entry's own layout", () => {
    const claude = JSON.stringify({ mcpServers: { a: { command: 'uvx', args: ['a-mcp'] } }, projects: { '/work/app': { mcpServers: { b: { type: 'stdio', command: 'node', args: ['b.js'], env: {} } } } } }, null, 2);
    const result = edit(configOf('Claude Code (user'), claude, { KM_HOME: '/data/km' });
    const parsed = JSON.parse(after(result));
    expect(parsed.mcpServers.a).toEqual({ command: 'km', args: ['--name', 'a', '--', 'uvx', 'a-mcp'], env: { KM_HOME: '/data/km' } });
    expect(parsed.projects['/work/app'].mcpServers.b).toEqual({ type: 'stdio', command: 'km', args: ['--name', 'b', '--', 'node', 'b.js'], env: { KM_HOME: '/data/km' } });
    expect(after(result)).toContain('      "env": { "KM_HOME": "/data/km" }\n'); // a line of its own, indented like its siblings
    const vscode = '{\n\t"servers": {\n\t\t"gh": { "type": "stdio", "command": "gh-mcp" }\n\t}\n}\n';
    expect(JSON.parse(after(edit(configOf('VS Code (user)'), vscode))).servers.gh).toEqual({ type: 'stdio', command: 'km', args: ['--name', 'gh', '--', 'gh-mcp'] });
  });

  it('routes a Streamable HTTP remote through km --url, its headers in its env (not on the command line), and leaves HTTP+SSE ones alone', () => {
    const vscode = JSON.stringify({ servers: { gh: { type: 'http', url: 'https://api.example.com/mcp', headers: { Authorization: 'Bearer ${input:token}' } }, old: { type: 'sse', url: 'https://old.example.com/sse' } } }, null, 2);
    const parsed = JSON.parse(after(edit(configOf('VS Code (user)'), vscode)));
    // Before, --header 'Authorization: Bearer ...' in args: ps showed the token to every user, claude mcp list printed it.
    expect(parsed.servers.gh).toEqual({ command: 'km', args: ['--name', 'gh', '--url', 'https://api.example.com/mcp'], env: { KM_HEADER_1: 'Authorization: Bearer ${input:token}' } });
    expect(parsed.servers.old).toEqual({ type: 'sse', url: 'https://old.example.com/sse' });
    const gemini = JSON.stringify({ mcpServers: { a: { httpUrl: 'https://a.example.com/mcp' }, b: { url: 'https://b.example.com/sse' } } });
    const result = editConfig(configOf('Gemini CLI (user)'), gemini, (name, entry) => planEntry(name, entry, launcher, {}, true), () => true);
    expect(JSON.parse(after(result)).mcpServers).toEqual({ a: { command: 'km', args: ['--name', 'a', '--url', 'https://a.example.com/mcp'] }, b: { url: 'https://b.example.com/sse' } });
  });

  it('only the servers asked for, and never an entry that already runs km (by name or as node km.js)', () => {
    const text = JSON.stringify({ mcpServers: { a: { command: 'a' }, b: { command: 'b' }, c: { command: '/usr/bin/node', args: ['/opt/km/bin/km.js', '--', 'c'] } } });
    const parsed = JSON.parse(after(edit(configOf('Cursor (user)'), text, {}, (name) => name !== 'b')));
    expect([parsed.mcpServers.a.command, parsed.mcpServers.b.command, parsed.mcpServers.c.command]).toEqual(['km', 'b', '/usr/bin/node']);
  });

  it('leaves a file it cannot parse untouched, naming file, line and column in plain words', () => {
    expect(edit(configOf('Cursor (user)'), '{\n  "mcpServers": {\n    "a": { "command": "x" }\n    "b": { "command": "y" }\n  }\n}\n')).toEqual({ problem: '/home/u/.cursor/mcp.json:4:5: expected a comma; left untouched' });
    const result = edit(configOf('Cursor (user)'), '{\n  "mcpServers": {\n    "a": { "command": "x" \n  }\n');
    expect(result).toEqual({ problem: expect.stringMatching(/^\/home\/u\/\.cursor\/mcp\.json:5:1: expected a closing brace }; left untouched$/) });
  });

  it('refuses what the client itself cannot read: a trailing comma for Claude Code and Gemini CLI, a comment for Claude Code', () => {
    const trailing = '{\n  "mcpServers": {\n    "memory": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"] },\n  }\n}\n';
    expect(edit(configOf('Claude Code (project'), trailing)).toEqual({ problem: '/work/app/.mcp.json:4:3: a trailing comma, which Claude Code cannot read; left untouched' });
    expect(edit(configOf('Gemini CLI (user)'), trailing)).toEqual({ problem: '/home/u/.gemini/settings.json:4:3: a trailing comma, which Gemini CLI cannot read; left untouched' });
    const commented = '{\n  // mine\n  "mcpServers": {}\n}\n';
    expect(edit(configOf('Claude Code (user'), commented)).toEqual({ problem: '/home/u/.claude.json:2:3: a comment, which Claude Code cannot read (it reads plain JSON); left untouched' });
    // Gemini CLI takes comments; VS Code and its kin take both.
    expect(after(edit(configOf('Gemini CLI (user)'), commented))).toBe(commented);
    expect(after(edit(configOf('VS Code (workspace'), '{\n  // mine\n  "servers": {},\n}\n'))).toBe('{\n  // mine\n  "servers": {},\n}\n');
  });

  it("wraps Codex CLI's TOML servers and keeps its other settings; a second run changes nothing", () => {
    const codex = 'model = "o3"\n\n[mcp_servers.mem]\ncommand = "npx"\nargs = ["-y", "@modelcontextprotocol/server-memory"]\nenv = { TOKEN_FILE = "/t" }\n';
    const once = after(edit(configOf('Codex CLI'), codex, { KM_HOME: '/data/km' }));
    expect(once).toContain('model = "o3"');
    expect(once).toContain('args = [ "--name", "mem", "--", "npx", "-y", "@modelcontextprotocol/server-memory" ]');
    expect(once).toMatch(/TOKEN_FILE = "\/t"/);
    expect(once).toMatch(/KM_HOME = "\/data\/km"/);
    expect(after(edit(configOf('Codex CLI'), once, { KM_HOME: '/data/km' }))).toBe(once);
    expect(edit(configOf('Codex CLI'), '[mcp_servers.x\n')).toEqual({ problem: expect.stringMatching(/config\.toml:1:\d+: .*left untouched$/) });
  });
});

describe('km init: the configs', () => {
  it('lists each file once, even run from the home directory, where project files are the user files', () => {
    const paths = clientConfigs({ home: '/home/u', cwd: '/home/u', platform: 'linux' }).map((c) => c.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths).toContain('/home/u/.cursor/mcp.json');
    expect(clientConfigs({ home: 'C:\\Users\\u', cwd: 'C:\\w', platform: 'win32', appData: 'C:\\Users\\u\\AppData\\Roaming' }).find((c) => c.client === 'claude-desktop')!.path).toContain('Claude');
    expect(clientConfigs({ home: '/Users/u', cwd: '/w', platform: 'darwin' }).find((c) => c.client === 'vscode')!.path).toBe('/Users/u/Library/Application Support/Code/User/mcp.json');
  });
});

describe('km init: the diff and the undo', () => {
  it('shows removed then added lines with context', () => {
    expect(lineDiff('a\nb\nc\nd\ne\nf\ng', 'a\nb\nc\nD\ne\nf\ng', 1)).toEqual(['  c', '- d', '+ D', '  e']);
  });

  it('restores what it wrote byte for byte, and leaves a file changed since then alone', () => {
    const home = tempHome('km-init-undo');
    const dir = join(home, 'configs');
    mkdirSync(dir);
    const [one, two] = [join(dir, 'one.json'), join(dir, 'two.json')];
    const original = '{\r\n  // crlf and a comment\r\n  "mcpServers": {}\r\n}\r\n';
    writeFileSync(one, original);
    writeFileSync(two, '{}');
    const files = writeRun(home, stampNow(), [
      { path: one, text: '{ "changed": 1 }' },
      { path: two, text: '{ "changed": 2 }' },
    ]);
    expect(readFileSync(files[0]!.backup, 'utf8')).toBe(original);
    writeFileSync(two, '{ "edited by the user": true }');
    const outcome = undoLatestRun(home);
    expect(outcome.restored).toEqual([one]);
    expect(outcome.kept.map((k) => k.path)).toEqual([two]);
    expect(readFileSync(one, 'utf8')).toBe(original);
    // A changed file with no entries recorded (a run of an older km) can only be restored by hand, from its backup:
    // the run is done with, so older runs are not stuck behind it.
    expect(undoLatestRun(home).at).toBeNull();
  });

  it("gives km's entries back in a file its client rewrote since (Claude Code's ~/.claude.json), keeping what the client wrote and an entry edited by hand", () => {
    const home = tempHome('km-init-undo-entries');
    const path = join(home, '.claude.json');
    const original = JSON.stringify({ mcpServers: { mem: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] }, fs: { command: 'uvx', args: ['fs-mcp'] } }, projects: { '/work/app': { mcpServers: { mem: { command: 'node', args: ['m.js'] } } } } }, null, 2);
    writeFileSync(path, original);
    const config = { ...configOf('Claude Code (user'), path };
    const edited = edit(config, original, { KM_HOME: '/data/km' });
    if ('problem' in edited) throw new Error(edited.problem);
    const entries = edited.entries.map((e) => ({ path: e.path, written: entryValue(config.format, edited.after, e.path) }));
    writeRun(home, stampNow(), [{ path, text: edited.after, format: config.format, entries }]);
    // Claude Code starts: it rewrites the file in its own layout, with state of its own; the user edits fs by hand.
    const rewritten = JSON.parse(edited.after);
    rewritten.firstStartTime = '2026-12-06T21:00:00.000Z';
    rewritten.mcpServers.fs.args.push('--verbose');
    writeFileSync(path, JSON.stringify(rewritten, null, 4));

    const outcome = undoLatestRun(home);
    expect(outcome.unwrapped).toEqual([{ path, entries: ['mem', 'mem (projects./work/app.mcpServers)'] }]);
    expect(outcome.kept).toEqual([{ path, backup: expect.stringContaining('.km-backup-'), entries: ['fs'] }]);
    const after = JSON.parse(readFileSync(path, 'utf8'));
    expect(after.mcpServers.mem).toEqual({ command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] });
    expect(after.projects['/work/app'].mcpServers.mem).toEqual({ command: 'node', args: ['m.js'] });
    expect(after.mcpServers.fs.command).toBe('km');
    expect(after.firstStartTime).toBe('2026-12-06T21:00:00.000Z');
    // The entry kept is all the run has left: fixed by hand (back as km wrote it), the next --undo gives it back too.
    after.mcpServers.fs.args.pop();
    writeFileSync(path, JSON.stringify(after, null, 4));
    expect(undoLatestRun(home).unwrapped).toEqual([{ path, entries: ['fs'] }]);
    expect(JSON.parse(readFileSync(path, 'utf8')).mcpServers.fs).toEqual({ command: 'uvx', args: ['fs-mcp'] });
    expect(undoLatestRun(home).at).toBeNull();
  });

  it('retires a run whose kept entry an --undo could not give back twice over, and gives Codex TOML entries back too', () => {
    const home = tempHome('km-init-undo-toml');
    const path = join(home, 'config.toml');
    const original = 'model = "o3"\n\n[mcp_servers.mem]\ncommand = "npx"\nargs = ["-y", "@modelcontextprotocol/server-memory"]\n\n[mcp_servers.fs]\ncommand = "uvx"\nargs = ["fs-mcp"]\n';
    writeFileSync(path, original);
    const config = { ...configOf('Codex CLI'), path };
    const edited = edit(config, original);
    if ('problem' in edited) throw new Error(edited.problem);
    const entries = edited.entries.map((e) => ({ path: e.path, written: entryValue(config.format, edited.after, e.path) }));
    writeRun(home, stampNow(), [{ path, text: edited.after, format: config.format, entries }]);
    // Codex rewrites the file (a setting of its own); the user edits fs's km entry by hand.
    writeFileSync(path, `approval = "never"\n${edited.after.replace('"fs-mcp"', '"fs-mcp", "--verbose"')}`);
    const first = undoLatestRun(home);
    expect(first.unwrapped).toEqual([{ path, entries: ['mem'] }]);
    expect(first.kept.map((k) => k.entries)).toEqual([['fs']]);
    expect(readFileSync(path, 'utf8')).toMatch(/approval = "never"[\s\S]*command = "npx"/);
    // No further on the next try: the run is retired, with fs left as the user has it.
    expect(undoLatestRun(home).kept.map((k) => k.entries)).toEqual([['fs']]);
    expect(undoLatestRun(home).at).toBeNull();
  });
});
