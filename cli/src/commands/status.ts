import { Command } from 'commander';
import { describeReachability, probeEndpoint } from '../config/endpoint-probe';
import { describeStartFailure, recentStartFailures } from '../doctor/start-failures';
import { loadSettings, resolveTarget } from '../config/settings';
import { Spool } from '../spool';
import { deadJournals } from '../wrap/journal';

const silentLogger = { info() {}, warn() {}, error() {} };

/** Where km ships, whether it answers, and what waits in the spool. */
export function statusCommand(): Command {
  return new Command('status').description('Show where events go and what waits in the local spool').action(async () => {
    const settings = loadSettings();
    const { endpoint, apiKey, notRunning } = resolveTarget(settings);
    let waiting = { files: 0, bytes: 0 };
    let refusedLines: string[] = [];
    try {
      const spool = new Spool(settings.home, settings.maxSpoolBytes, silentLogger);
      // What was shipped is acknowledged, not deleted at once: only the bytes after each file's ack wait.
      waiting = spool.waiting();
      const refused = spool.refused();
      if (refused.length > 0) {
        const total = refused.reduce((n, r) => n + r.bytes, 0);
        refusedLines = [
          `refused:   ${refused.length} file(s), ${total} bytes set aside because ingest refused the API key; fix it, then run km flush --retry-refused${refused.some((r) => /name another orgId/.test(r.reason)) ? ` (events stamped with another org: add --reassign-org to send them as the key's org)` : ''}`,
          ...refused.map((r) => `           ${r.spoolId}: ${r.bytes} bytes, ${r.reason}`),
        ];
      }
    } catch {
      // no spool yet
    }
    // Sessions of km processes killed before they spooled everything: replayed by the next km run or km flush.
    const journals = deadJournals(settings.home).length;
    const journalLines = journals > 0 ? [`journal:   ${journals} session(s) of km processes that were killed wait to be replayed; km flush does it now`] : [];
    const reach = notRunning ? null : await probeEndpoint(endpoint, apiKey, settings.orgConfigured ? settings.orgId : null);
    const endpointLine = reach ? `endpoint:  ${endpoint} (reachable: ${describeReachability(reach)})` : `endpoint:  none: ${notRunning}; start it with km serve (events wait in the spool)`;
    // A broken client config shows here too: servers km could not start, from the sessions the stack recorded.
    const failures = reach?.kind === 'ok' ? ((await recentStartFailures({ endpoint, apiKey })) ?? []) : [];
    const failureLines = failures.length > 0 ? [`failed:    ${failures.length} server(s) km could not start in the last day:`, ...failures.map((f) => `           ${describeStartFailure(f)}`)] : [];
    process.stdout.write(
      [`home:      ${settings.home}`, endpointLine, `api key:   ${apiKey ? 'set' : 'none'}`, `org:       ${settings.orgConfigured ? settings.orgId : `${settings.orgId} (not set: a session's events go as the org of the key its km ships them with)`}`, `spool:     ${waiting.files} file(s), ${waiting.bytes} bytes waiting`, ...journalLines, ...refusedLines, ...failureLines].join('\n') + '\n',
    );
  });
}
