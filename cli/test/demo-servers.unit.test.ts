import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_SERVERS } from '../src/demo/facts';
import { serverCommand } from '../src/demo/servers';
import { tempHome } from './helpers';

describe("km demo's servers", () => {
  it("run the installed package's bin with this Node when km finds it in a node_modules above it", () => {
    const root = tempHome('km-demo-servers');
    const packageDir = join(root, 'node_modules', '@modelcontextprotocol', 'server-memory');
    mkdirSync(join(packageDir, 'dist'), { recursive: true });
    writeFileSync(join(packageDir, 'package.json'), JSON.stringify({ name: '@modelcontextprotocol/server-memory', bin: { 'mcp-server-memory': 'dist/index.js' } }));
    writeFileSync(join(packageDir, 'dist', 'index.js'), '');
    const below = join(root, 'lib', 'km', 'dist', 'bundle');
    mkdirSync(below, { recursive: true });
    expect(serverCommand(DEMO_SERVERS.memory, below)).toEqual({ command: process.execPath, args: [join(packageDir, 'dist', 'index.js')] });
  });

  it('fall back to the pinned version through npx where none is installed', () => {
    const nowhere = tempHome('km-demo-servers');
    expect(serverCommand(DEMO_SERVERS.filesystem, nowhere)).toEqual({ command: 'npx', args: ['-y', `@modelcontextprotocol/server-filesystem@${DEMO_SERVERS.filesystem.version}`] });
  });

  it('pin the versions the repository installs and its tests run (the agent calls their tool names)', () => {
    const { devDependencies } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    for (const server of Object.values(DEMO_SERVERS)) expect(`${server.packageName} ${devDependencies[server.packageName]}`).toBe(`${server.packageName} ^${server.version}`);
  });
});
