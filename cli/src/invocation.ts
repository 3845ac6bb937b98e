/**
 * Decides what `km ...` means before anything heavy loads. A known subcommand or a help/version flag goes to
 * the commander program; anything else wraps a server: `km [--project P] [--name N] [--] <command> [args...]`.
 * `--` forces wrapping, e.g. for a server whose command is called `serve`.
 */
export const SUBCOMMANDS = new Set(['init', 'doctor', 'proxy', 'serve', 'flush', 'status', 'login', 'help', 'budget', 'report', 'tail', 'dashboard', 'demo', 'keys', 'members', 'audit']);
/**
 * Words km keeps for commands it has planned: `km init` once ran the system's /sbin/init as a "server". A reserved
 * word is never run as a command unless it comes after `--`.
 */
const RESERVED = new Set(['export', 'logout', 'config', 'version', 'upgrade', 'uninstall']);
const WRAP_FLAGS_WITH_VALUE = new Set(['--project', '--name', '--url', '--header']);

export type Invocation =
  | { kind: 'program'; argv: string[] }
  | { kind: 'wrap'; command: string; args: string[]; project?: string; name?: string; url?: string; headers?: string[] }
  | { kind: 'usage-error'; message: string };

export const HEADER_ENV_PREFIX = 'KM_HEADER_';
/** A header as `Name: value` (the name an RFC 9110 token). */
const HEADER_LINE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+:/;

/**
 * A remote server's headers given in the environment, `KM_HEADER_<any>=Name: value`, in the order of their variables'
 * names: km init puts a config's headers (tokens) there, in the entry's env, rather than on the command line, which
 * `ps` shows every user of the machine and clients print (`claude mcp list`).
 */
export function headersFromEnv(env: NodeJS.ProcessEnv): Array<{ variable: string; header: string }> {
  return Object.keys(env)
    .filter((name) => name.startsWith(HEADER_ENV_PREFIX) && env[name])
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((variable) => ({ variable, header: env[variable]! }));
}
/**
 * stdinIsTTY: MCP clients start servers with pipes, so a terminal on stdin means a person typed `km <word>`.
 * env: where a remote server's headers may also come from (headersFromEnv).
 */
export function parseInvocation(argv: string[], stdinIsTTY = false, env: NodeJS.ProcessEnv = {}): Invocation {
  const first = argv[0];
  if (first === undefined || SUBCOMMANDS.has(first) || ['-h', '--help', '-V', '--version'].includes(first)) {
    return { kind: 'program', argv };
  }

  const flags: Record<string, string> = {};
  const headers: string[] = [];
  let i = 0;
  let afterDashes = false;
  while (i < argv.length) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      afterDashes = true;
      break;
    }
    const [flag, inline] = word.startsWith('--') && word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
    if (WRAP_FLAGS_WITH_VALUE.has(flag)) {
      const value = inline ?? argv[i + 1];
      if (value === undefined || value === '') return { kind: 'usage-error', message: `${flag} needs a value` };
      if (flag === '--header') headers.push(value);
      else flags[flag.slice(2)] = value;
      i += inline === undefined ? 2 : 1;
      continue;
    }
    if (word.startsWith('-')) return { kind: 'usage-error', message: `unknown option ${word}; put the server's command after --, e.g. km -- npx -y @modelcontextprotocol/server-everything` };
    break;
  }
  const command = argv[i];
  if (flags.url !== undefined) {
    // Named by its variable, never by its value: a header holds a token.
    const fromEnv = headersFromEnv(env);
    const badEnv = fromEnv.find(({ header }) => !HEADER_LINE.test(header));
    if (badEnv) return { kind: 'usage-error', message: `${badEnv.variable} is not "Name: value" (a header for the remote server)` };
    return remoteInvocation(flags, [...headers, ...fromEnv.map(({ header }) => header)], command, stdinIsTTY);
  }
  if (headers.length > 0) return { kind: 'usage-error', message: '--header goes with --url (headers for a remote server); a stdio server takes its settings in its own arguments or env' };
  if (command === undefined) return { kind: 'usage-error', message: 'no server command given; e.g. km -- npx -y @modelcontextprotocol/server-everything' };
  if (!afterDashes && (RESERVED.has(command) || SUBCOMMANDS.has(command))) {
    return { kind: 'usage-error', message: `"${command}" is a km command${SUBCOMMANDS.has(command) ? '' : ' this version does not have yet'} (see km --help); to wrap a server called ${command}, put it after --: km -- ${command}` };
  }
  if (stdinIsTTY) return { kind: 'usage-error', message: typedByHand(command, afterDashes) };
  return { kind: 'wrap', command, args: argv.slice(i + 1), ...(flags.project ? { project: flags.project } : {}), ...(flags.name ? { name: flags.name } : {}) };
}

/** `km --url URL [--header 'Name: value']...`: a remote (Streamable HTTP) server, bridged to the client's stdio. */
function remoteInvocation(flags: Record<string, string>, headers: string[], extra: string | undefined, stdinIsTTY: boolean): Invocation {
  if (extra !== undefined) return { kind: 'usage-error', message: `--url and a server command ("${extra}") together: km wraps either a remote server or a stdio one` };
  let url: URL;
  try {
    url = new URL(flags.url!);
  } catch {
    return { kind: 'usage-error', message: `--url ${flags.url} is not a URL; e.g. km --url https://example.com/mcp` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { kind: 'usage-error', message: `--url must be http or https, not ${url.protocol}` };
  const bad = headers.find((h) => !HEADER_LINE.test(h));
  if (bad !== undefined) return { kind: 'usage-error', message: `--header "${bad.split(':')[0]}..." is not "Name: value"` };
  if (stdinIsTTY) return { kind: 'usage-error', message: typedByHand(`--url ${url.href}`, true) };
  return { kind: 'wrap', command: url.href, args: [], url: url.href, headers, ...(flags.project ? { project: flags.project } : {}), ...(flags.name ? { name: flags.name } : {}) };
}

/** What a person who typed `km <command>` at a terminal probably meant: wrapping is for MCP clients, over pipes. */
function typedByHand(command: string, afterDashes: boolean): string {
  const nearest = afterDashes ? null : nearestCommand(command);
  const hint = nearest ? `did you mean km ${nearest}? ` : '';
  return `not wrapping "${command}": stdin is a terminal, and MCP clients start servers with pipes. ${hint}See km --help; to try a server by hand, pipe into it: echo '{...}' | km -- ${command}`;
}

/** The km command within two edits of what was typed, if there is one. */
function nearestCommand(word: string): string | null {
  let best: { name: string; distance: number } | null = null;
  for (const name of [...SUBCOMMANDS, ...RESERVED]) {
    const distance = editDistance(word.toLowerCase(), name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name ?? null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
