import { parseInvocation } from './invocation';

/** km's entry point. The wrap path stays lean (see wrap/run.ts); commands load commander only when used. */
const invocation = parseInvocation(process.argv.slice(2));
if (invocation.kind === 'wrap') {
  const { runWrap } = require('./wrap/run') as typeof import('./wrap/run');
  runWrap(invocation);
} else if (invocation.kind === 'usage-error') {
  process.stderr.write(`km: ${invocation.message}\n`);
  process.exitCode = 2;
} else {
  const { runProgram } = require('./program') as typeof import('./program');
  void runProgram(invocation.argv);
}
