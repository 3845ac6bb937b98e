/**
 * Decides what `km ...` means before anything heavy loads. A known subcommand or a help/version flag goes to
 * the commander program; anything else wraps a server: `km [--project P] [--name N] [--] <command> [args...]`.
 * `--` forces wrapping, e.g. for a server whose command is called `serve`.
 */
export const SUBCOMMANDS = new Set([
  'serve',
  'flush',
  'status',
  'login',
  'help',
  // Cost Center (#3)
  'budget',
  'report',
]);
SUBCOMMANDS.add('tail'); // Performance Hub (#5)
SUBCOMMANDS.add('dashboard'); // Dashboard (#7)
const WRAP_FLAGS_WITH_VALUE = new Set(['--project', '--name']);

export type Invocation =
  | { kind: 'program'; argv: string[] }
  | { kind: 'wrap'; command: string; args: string[]; project?: string; name?: string }
  | { kind: 'usage-error'; message: string };

export function parseInvocation(argv: string[]): Invocation {
  const first = argv[0];
  if (first === undefined || SUBCOMMANDS.has(first) || ['-h', '--help', '-V', '--version'].includes(first)) {
    return { kind: 'program', argv };
  }
  const flags: Record<string, string> = {};
  let i = 0;
  while (i < argv.length) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      break;
    }
    const [flag, inline] = word.startsWith('--') && word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
    if (WRAP_FLAGS_WITH_VALUE.has(flag)) {
      const value = inline ?? argv[i + 1];
      if (value === undefined || value === '') return { kind: 'usage-error', message: `${flag} needs a value` };
      flags[flag.slice(2)] = value;
      i += inline === undefined ? 2 : 1;
      continue;
    }
    if (word.startsWith('-')) return { kind: 'usage-error', message: `unknown option ${word}; put the server's command after --, e.g. km -- npx -y @modelcontextprotocol/server-everything` };
    break;
  }
  const command = argv[i];
  if (command === undefined) return { kind: 'usage-error', message: 'no server command given; e.g. km -- npx -y @modelcontextprotocol/server-everything' };
  return { kind: 'wrap', command, args: argv.slice(i + 1), ...(flags.project ? { project: flags.project } : {}), ...(flags.name ? { name: flags.name } : {}) };
}
