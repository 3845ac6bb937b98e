import { join, resolve } from 'node:path';

/**
 * Where each MCP client keeps its server list (issue 13), on Linux, macOS and Windows. A config file names the
 * maps of servers it holds by their JSON path: most have one (`mcpServers`, VS Code's `servers`), Claude Code's
 * user file has one more per project (`projects.<dir>.mcpServers`), found once the file is read.
 */
export type ClientId = 'claude-desktop' | 'claude-code' | 'cursor' | 'vscode' | 'windsurf' | 'gemini' | 'codex';

export const CLIENT_IDS: readonly ClientId[] = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'windsurf', 'gemini', 'codex'];

export interface ClientConfig {
  client: ClientId;
  /** A label for output: "Claude Code (project .mcp.json)". */
  label: string;
  path: string;
  /**
   * How the client reads the file, so km refuses what the client would (and never calls such a file fine): `json`
   * strict (Claude Code, Claude Desktop: JSON.parse), `json-comments` comments but no trailing commas (Gemini CLI
   * strips comments, then parses), `jsonc` both (VS Code; Cursor and Windsurf, VS Code's kin, are taken to), `toml`.
   */
  format: 'json' | 'json-comments' | 'jsonc' | 'toml';
  /** The server maps in the file; `projects.*` stands for every project of Claude Code's user file. */
  serverMaps: string[][];
  /** A file of the project (in the working directory), which the team shares: its entries must run on any machine. */
  shared?: true;
}

export interface Places {
  home: string;
  cwd: string;
  platform: NodeJS.Platform;
  /** %APPDATA% on Windows. */
  appData?: string;
}

/** The per-user settings directory of desktop apps (Electron's userData parent). */
function appSupport(places: Places): string {
  if (places.platform === 'darwin') return join(places.home, 'Library', 'Application Support');
  if (places.platform === 'win32') return places.appData ?? join(places.home, 'AppData', 'Roaming');
  return join(places.home, '.config');
}

export function clientConfigs(places: Places): ClientConfig[] {
  const { home, cwd } = places;
  const servers = [['mcpServers']];
  // A project's files are the team's, except run from the home directory: there they are the user's own.
  const shared = resolve(cwd) === resolve(home) ? {} : { shared: true as const };
  const all: ClientConfig[] = [
    { client: 'claude-desktop', label: 'Claude Desktop', path: join(appSupport(places), 'Claude', 'claude_desktop_config.json'), format: 'json', serverMaps: servers },
    { client: 'claude-code', label: 'Claude Code (user and local scopes)', path: join(home, '.claude.json'), format: 'json', serverMaps: [['mcpServers'], ['projects', '*', 'mcpServers']] },
    { client: 'claude-code', label: 'Claude Code (project .mcp.json)', path: join(cwd, '.mcp.json'), format: 'json', serverMaps: servers, ...shared },
    { client: 'cursor', label: 'Cursor (user)', path: join(home, '.cursor', 'mcp.json'), format: 'jsonc', serverMaps: servers },
    { client: 'cursor', label: 'Cursor (project)', path: join(cwd, '.cursor', 'mcp.json'), format: 'jsonc', serverMaps: servers, ...shared },
    { client: 'vscode', label: 'VS Code (user)', path: join(appSupport(places), 'Code', 'User', 'mcp.json'), format: 'jsonc', serverMaps: [['servers']] },
    { client: 'vscode', label: 'VS Code (workspace .vscode/mcp.json)', path: join(cwd, '.vscode', 'mcp.json'), format: 'jsonc', serverMaps: [['servers']], ...shared },
    { client: 'windsurf', label: 'Windsurf', path: join(home, '.codeium', 'windsurf', 'mcp_config.json'), format: 'jsonc', serverMaps: servers },
    { client: 'gemini', label: 'Gemini CLI (user)', path: join(home, '.gemini', 'settings.json'), format: 'json-comments', serverMaps: servers },
    { client: 'gemini', label: 'Gemini CLI (project)', path: join(cwd, '.gemini', 'settings.json'), format: 'json-comments', serverMaps: servers, ...shared },
    { client: 'codex', label: 'Codex CLI', path: join(home, '.codex', 'config.toml'), format: 'toml', serverMaps: [['mcp_servers']] },
  ];
  // Run from the home directory, a project file is the user file: one file, edited once.
  return all.filter((config, i) => all.findIndex((other) => other.path === config.path) === i);
}
