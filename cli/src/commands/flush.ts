import { Command } from 'commander';
import { ensureHome, loadSettings, resolveTarget } from '../config/settings';
import { fileLogger } from '../log';
import { ShipQueue, Shipper } from '../ship';
import { Spool } from '../spool';
import { replayDeadJournals } from '../wrap/session';
import { UsageError } from '../usage-error';

/** Ships what km processes that ended left in the spool (the running ones ship their own). */
export function flushCommand(): Command {
  return new Command('flush')
    .description('Ship events left in the local spool by km processes that have ended')
    .option('--retry-refused', 'also retry spool files set aside because ingest refused the API key (401/403)')
    .option('--reassign-org', "with --retry-refused: send those events as the org of the key you use now (they were stamped with another tenant's org)")
    .action(async (opts: { retryRefused?: boolean; reassignOrg?: boolean }) => {
      if (opts.reassignOrg && !opts.retryRefused) throw new UsageError('--reassign-org goes with --retry-refused (it rewrites the files set aside)');
      const settings = loadSettings();
      ensureHome(settings.home);
      const logger = fileLogger(settings.home, settings.debug);
      const spool = new Spool(settings.home, settings.maxSpoolBytes, logger);
      // No session of its own: what it ships was recorded by other km processes, maybe with other keys, so their
      // events keep the org they were stamped with (--reassign-org changes it when asked).
      const shipper = new Shipper(spool, () => resolveTarget(settings), logger);
      const queue = new ShipQueue(spool, shipper);
      // Journals of killed km processes become events in this process's own spool file, shipped with the rest.
      const replayed = await replayDeadJournals(settings, spool, logger);
      spool.close();
      // --reassign-org: as the key's own org (GET /api/whoami), which is what the events are refused for not naming.
      const asked = opts.reassignOrg ? await shipper.keyOrg() : null;
      const keyOrg = asked !== null && typeof asked === 'object' ? asked.orgId : null;
      if (opts.reassignOrg && keyOrg === null) throw new Error(`--reassign-org needs the org of the key: ${resolveTarget(settings).endpoint} did not answer GET /api/whoami for it (is it reachable, and the key set: KM_API_KEY or km login?)`);
      const outcome = await queue.pass({ includeOwn: replayed > 0, retryRefused: opts.retryRefused === true, ...(keyOrg ? { reassignOrg: keyOrg } : {}) });
      if (replayed > 0 && spool.own.fullyShipped()) spool.own.remove();
      const { endpoint, notRunning } = resolveTarget(settings);
      if (outcome === 'shipped') {
        process.stdout.write(shipper.shippedEvents === 0 ? 'km flush: nothing waited in the spool\n' : `km flush: shipped ${shipper.shippedEvents} event(s) to ${endpoint}\n`);
        return;
      }
      if (outcome === 'unauthorized' && queue.pendingOrphans === 0) {
        const otherOrg = /name another orgId/.test(shipper.lastRefusal ?? '');
        const fix = otherOrg
          ? `their events name another org than this key's: km flush --retry-refused --reassign-org sends them as the key's org${await keyOrgWords(shipper)}, if they are that org's`
          : 'fix the key (km login) and run km flush --retry-refused';
        throw new Error(`flush shipped ${shipper.shippedEvents} event(s); ingest refused the API key (${shipper.lastRefusal}) for ${queue.setAside} spool file(s), set aside: ${fix}`);
      }
      const why =
        outcome === 'unauthorized'
          ? 'the API key was refused (check KM_API_KEY or run km login)'
          : outcome === 'server-error'
            ? `${shipper.lastFailure} (a server-side failure: retry later)`
            : (notRunning ?? `nothing answered at ${endpoint} (is km serve running?)`);
      throw new Error(`flush stopped after ${shipper.shippedEvents} event(s): ${why}; ${queue.pendingOrphans} spool file(s) wait for the next try`);
    });
}

/** ` ("acme")`: the key's org as GET /api/whoami says, or nothing when it does not say. */
async function keyOrgWords(shipper: Shipper): Promise<string> {
  const org = await shipper.keyOrg();
  return typeof org === 'object' ? ` ("${org.orgId}")` : '';
}
