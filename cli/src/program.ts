import { Command, CommanderError } from 'commander';
import { doctorCommand } from './commands/doctor';
import { flushCommand } from './commands/flush';
import { proxyCommand } from './commands/proxy';
import { initCommand } from './commands/init';
import { loginCommand } from './commands/login';
import { keysCommand } from './commands/keys';
import { membersCommand } from './commands/members';
import { auditCommand } from './commands/audit';
import { serveCommand } from './commands/serve';
import { statusCommand } from './commands/status';
import { KM_VERSION } from './version';
import { USAGE_EXIT_CODE, UsageError } from './usage-error';
// Cost Center (#3)
import { budgetCommand } from './commands/budget';
import { reportCommand } from './commands/report';
import { tailCommand } from './commands/tail'; // Performance Hub (#5)
import { dashboardCommand } from './commands/dashboard'; // Dashboard (#7)
import { demoCommand } from './commands/demo'; // Landing page and demo (#15)

/** Wrapping is not a commander command (it must load nothing heavy), so its options are described here. */
const WRAP_HELP = `
Wrapping a server (what your MCP client config runs):
  km [--project P] [--name N] [--] <command> [args...]
  --project P   the project the session belongs to (else KM_PROJECT, else the nearest km.json, else "default")
  --name N      the server's name on the dashboard (else derived from the command)
  --            everything after it is the server's command line, even a word km uses itself
  --url URL     a remote (Streamable HTTP) server instead of a command: km bridges it to the client's stdio
  --header H    with --url, an HTTP header for the remote server ("Name: value"; repeat for more)
  Example: "command": "km", "args": ["--name", "fs", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", "."]

No MCP client yet? km demo records a scripted agent session into the local km serve and prints the dashboard URL.`;

/** Commands throw; this one handler prints a one-line message and sets the exit code (STYLE.md). */
export async function runProgram(argv: string[]): Promise<void> {
  const program = new Command('km')
    .description('The odometer for AI agents. Wrap an MCP server: km [--project P] [--name N] -- <command> [args...]')
    .version(KM_VERSION)
    .addHelpText('after', WRAP_HELP)
    .addCommand(initCommand())
    .addCommand(doctorCommand())
    .addCommand(proxyCommand())
    .addCommand(serveCommand())
    .addCommand(flushCommand())
    .addCommand(statusCommand())
    .addCommand(loginCommand())
    // Cost Center (#3)
    .addCommand(budgetCommand())
    .addCommand(reportCommand())
    .addCommand(tailCommand()) // Performance Hub (#5)
    .addCommand(dashboardCommand()) // Dashboard (#7)
    .addCommand(demoCommand()) // Landing page and demo (#15)
    .addCommand(keysCommand()) // Teams and compliance (#14)
    .addCommand(membersCommand())
    .addCommand(auditCommand());
  // addCommand does not pass exitOverride on: without it a subcommand's usage error exits 1 from inside commander.
  const throwingErrors = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(throwingErrors);
  };
  throwingErrors(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    // Wrong arguments exit 2, as a wrap with wrong arguments does: 1 keeps its meaning per command (km audit
    // verify: the file does not hold; km doctor: something failed), which a script must not confuse with a typo.
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
      return;
    }
    process.stderr.write(`km: ${(err as Error).message}\n`);
    process.exitCode = err instanceof UsageError ? USAGE_EXIT_CODE : 1;
  }
}
