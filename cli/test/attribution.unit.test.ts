import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveProject, serverName } from '../src/config/attribution';
import { loadCostSettings } from '../src/config/cost-config';
import { tempHome } from './helpers';
import { findProjectConfigFile } from '../src/config/project-config';

describe('attribution', () => {
  it('takes the project from --project, then KM_PROJECT, then the nearest km.json upward, then default', () => {
    const root = tempHome('proj');
    const deep = join(root, 'repo', 'src', 'deep');
    mkdirSync(deep, { recursive: true });
    expect(resolveProject(undefined, {}, findProjectConfigFile(deep))).toBe('default');
    writeFileSync(join(root, 'repo', 'km.json'), JSON.stringify({ project: 'payments' }));
    expect(resolveProject(undefined, {}, findProjectConfigFile(deep))).toBe('payments');
    expect(resolveProject(undefined, { KM_PROJECT: 'from-env' }, findProjectConfigFile(deep))).toBe('from-env');
    expect(resolveProject('from-flag', { KM_PROJECT: 'from-env' }, findProjectConfigFile(deep))).toBe('from-flag');
    writeFileSync(join(root, 'repo', 'km.json'), JSON.stringify({ model: 'gpt-4o' }));
    expect(resolveProject(undefined, {}, findProjectConfigFile(deep))).toBe('repo'); // a km.json without a name: its folder's
  });

  it('reads one km.json for every setting, and says why a broken one is ignored', () => {
    const root = tempHome('proj');
    writeFileSync(join(root, 'km.json'), '{ not json');
    expect(resolveProject(undefined, {}, findProjectConfigFile(root))).toBe(root.split('/').pop());
    const cost = loadCostSettings({}, findProjectConfigFile(root));
    expect(cost.notes.join()).toMatch(/km\.json:1:3: unexpected character$/);
    // Where it goes wrong, on its own line and column, in one line of words (JSON.parse names no position for it).
    writeFileSync(join(root, 'km.json'), '{"policy": {"deny": {"tools": ["read_graph",] } }}\n');
    expect(findProjectConfigFile(root)!.problem).toBe(`${join(root, 'km.json')}:1:45: a trailing comma (JSON has none)`);
    // A comment is not malformed: km.json is JSON, which has no comments at all (closed or not, wherever it stands).
    const comment = (line: number, column: number) => `${join(root, 'km.json')}:${line}:${column}: a comment: km.json is JSON, which does not allow comments (// or /* */); remove it`;
    for (const [text, line, column] of [
      ['{\n  // the payments service\n  "project": "payments"\n}\n', 2, 3],
      ['{ "project": "payments" /* for now */ }\n', 1, 25],
      ['/* km settings */\n{ "project": "payments" }\n', 1, 1],
      ['{ "project": "payments" /* never closed\n}\n', 1, 25],
    ] as const) {
      writeFileSync(join(root, 'km.json'), text);
      expect({ text, problem: findProjectConfigFile(root)!.problem }).toEqual({ text, problem: comment(line, column) });
    }
  });

  it('derives a server name from the command when --name is absent', () => {
    expect(serverName(undefined, 'npx', ['-y', '@modelcontextprotocol/server-everything@2026.8.31'])).toBe('server-everything');
    expect(serverName(undefined, '/usr/bin/node', ['/srv/mcp/github.js'])).toBe('github');
    expect(serverName(undefined, 'uvx', ['mcp-server-git', '--repo', '.'])).toBe('mcp-server-git');
    expect(serverName('mine', 'npx', ['x'])).toBe('mine');
    // Option values are not the server; a generic file names its package's directory; an image loses its tag.
    expect(serverName(undefined, 'node', ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'])).toBe('server-everything');
    expect(serverName(undefined, 'docker', ['run', '-i', '--rm', '-e', 'GITHUB_PERSONAL_ACCESS_TOKEN', 'ghcr.io/github/github-mcp-server'])).toBe('github-mcp-server');
    expect(serverName(undefined, 'docker', ['run', '-i', '--env=A=1', '-v', '/data:/data', 'mcp/fetch:1.2'])).toBe('fetch');
    expect(serverName(undefined, 'uvx', ['--from', 'git+https://github.com/x/y', 'mcp-server-git'])).toBe('mcp-server-git');
    expect(serverName(undefined, 'npx', ['-y', '-p', '@scope/tools', 'tool-server'])).toBe('tool-server');
    expect(serverName(undefined, 'python', ['-m', 'mcp_server_time'])).toBe('mcp_server_time');
    expect(serverName(undefined, '/opt/mcp/server', [])).toBe('mcp');
    expect(serverName(undefined, 'server', [])).toBe('server');
    // Options are the launcher's own: python's -u is unbuffered output, uvx's -v verbose.
    expect(serverName(undefined, 'python3', ['-u', 'weather_server.py', '--port', '1'])).toBe('weather_server');
    expect(serverName(undefined, 'python', ['-u', '/opt/weather/server.py'])).toBe('weather');
    expect(serverName(undefined, 'uvx', ['-v', 'mcp-server-git', '--repo', '.'])).toBe('mcp-server-git');
    expect(serverName(undefined, 'npx', ['-y', '@scope/cli'])).toBe('cli');
    expect(serverName(undefined, 'tsx', ['/srv/weather/src/server.ts'])).toBe('weather');
  });
});
