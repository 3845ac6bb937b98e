import { join } from 'node:path';
import { parseInvocation } from './invocation';
import { USAGE_EXIT_CODE } from './usage-error';

/**
 * km's entry point. The build makes separate bundles (dist/bundle/{km,wrap,program,observer-worker}.js) and
 * this one loads only what the invocation needs: wrapping a server never parses commander or the embedded host.
 */
const load = <T>(bundle: string): T => require(join(__dirname, bundle)) as T;

const invocation = parseInvocation(process.argv.slice(2), process.stdin.isTTY === true, process.env);
if (invocation.kind === 'wrap') {
  const { kind: _kind, headers, ...options } = invocation;
  load<typeof import('./wrap/run')>('wrap.js').runWrap(options, headers);
} else if (invocation.kind === 'usage-error') {
  process.stderr.write(`km: ${invocation.message}\n`);
  process.exitCode = USAGE_EXIT_CODE;
} else {
  // `km --help | head` closes the pipe early: the reader has what it wanted, so end quietly instead of a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  void load<typeof import('./program')>('program.js').runProgram(invocation.argv);
}
