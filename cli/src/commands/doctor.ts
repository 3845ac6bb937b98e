import { Command } from 'commander';
import { homedir } from 'node:os';
import { loadSettings } from '../config/settings';
import { clientChecks, endpointCheck, homeCheck, nodeCheck, spoolCheck, sqliteCheck, recentStartFailureChecks, type Check } from '../doctor/checks';

const MARK: Record<Check['status'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** `km doctor`: what stands between this machine and a recorded session, and what to do about each (issue 13). */
export function doctorCommand(): Command {
  return new Command('doctor').description('Check Node, KM_HOME, the endpoint and key, the spool, and every MCP client config; print what to fix').action(async () => {
    const settings = loadSettings();
    const places = { home: homedir(), cwd: process.cwd(), platform: process.platform, appData: process.env.APPDATA };
    const checks = [nodeCheck(), sqliteCheck(), homeCheck(settings), await endpointCheck(settings), ...(await recentStartFailureChecks(settings, places)), ...spoolCheck(settings), ...clientChecks(places, settings)];
    for (const check of checks) process.stdout.write(`${MARK[check.status]}  ${check.what}${check.fix ? `\n        fix: ${check.fix}` : ''}\n`);
    const failed = checks.filter((c) => c.status === 'fail').length;
    const warned = checks.filter((c) => c.status === 'warn').length;
    process.stdout.write(`km doctor: ${failed} problem(s), ${warned} warning(s)\n`);
    if (failed > 0) process.exitCode = 1;
  });
}
