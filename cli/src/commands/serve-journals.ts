import { resolveTarget, type Settings } from '../config/settings';
import type { Logger } from '../log';
import { ShipQueue, Shipper } from '../ship';
import { Spool } from '../spool';
import { replayDeadJournals } from '../wrap/session';

/** How often km serve looks for journals of killed wrappers. */
export const JOURNAL_REPLAY_INTERVAL_MS = 30_000;

/**
 * km serve ends the sessions of wrappers that were killed (kill -9, a client's SIGKILL): it replays their journals,
 * at start and then every JOURNAL_REPLAY_INTERVAL_MS, and ships the events (and what dead wrappers left in the
 * spool) to where wrappers ship, itself by default. Without it such a session stays live on the dashboard until the
 * next km run. One spool file for the life of the serve: what a pass could not ship goes with the next one.
 */
export function replayJournalsWhileServing(settings: Settings, logger: Logger): { stop(): void } {
  const spool = new Spool(settings.home, settings.maxSpoolBytes, logger);
  const queue = new ShipQueue(spool, new Shipper(spool, () => resolveTarget(settings), logger));
  let running: Promise<void> | null = null;
  const pass = () => {
    running ??= (async () => {
      try {
        const replayed = await replayDeadJournals(settings, spool, logger);
        if (replayed > 0) logger.info(`replayed ${replayed} journal(s) of killed km processes`);
        await queue.pass({ includeOwn: true });
      } catch (err) {
        logger.error(`journal replay failed: ${(err as Error).stack ?? err}; trying again in ${JOURNAL_REPLAY_INTERVAL_MS / 1000} s`);
      } finally {
        running = null;
      }
    })();
  };
  pass();
  const timer = setInterval(pass, JOURNAL_REPLAY_INTERVAL_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      spool.close();
      if (spool.own.fullyShipped()) spool.own.remove();
    },
  };
}
