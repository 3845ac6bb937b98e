import { newEventId, type Direction } from '@km/shared';
import { userInfo } from 'node:os';
import { machineId, resolveProject, resolveUser, serverName } from '../config/attribution';
import type { ProjectConfigFile } from '../config/project-config';
import { ensureHome, loadSettings, resolveTarget } from '../config/settings';
import { fileLogger, type Logger } from '../log';
import { ShipQueue, Shipper } from '../ship';
import { Spool } from '../spool';
import { KM_VERSION } from '../version';
import { redactedCommandLine } from './command-line';
import { LineFramer } from './line-framer';
import { SessionObserver } from './observer';
import { observerPlugins } from './plugins';
import { Recorder } from './recorder';
import type { WrapOptions } from './run';


/** How often a running wrapper ships, and how long it may spend shipping while exiting. */
const SHIP_INTERVAL_MS = 1000;
const EXIT_SHIP_BUDGET_MS = 1500;

const osUser = () => {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
};

export interface WrapSession {
  started(pid: number): void;
  observeChunks(chunks: Array<{ direction: Direction; chunk: Buffer; at: number }>): void;
  finish(end: { exitCode: number | null; signal: NodeJS.Signals | null; at: number }): Promise<void>;
  blocked(block: { method: string; target: string | null; ruleId: string; reason: string; at: number }): void;
}

/** Everything off the hot path for one wrapped server: framing, pairing, the spool and the shipper. */
/** projectConfig: the km.json the forwarding thread found (read once per session, see run.ts). */
export function startSession(options: WrapOptions, startedAt: number, projectConfig: ProjectConfigFile | null): WrapSession {
  const settings = loadSettings();
  ensureHome(settings.home);
  const logger: Logger = fileLogger(settings.home, settings.debug);
  const spool = new Spool(settings.home, settings.maxSpoolBytes, logger); // the full-spool warning goes to km.log (stderr only with KM_DEBUG)
  const recorder = new Recorder(spool);
  const projectId = resolveProject(options.project, process.env, projectConfig);
  const name = serverName(options.name, options.command, options.args);
  const plugins = observerPlugins({ settings, logger, projectId, projectConfig, serverName: name });
  const observer = new SessionObserver((draft) => recorder.record(draft), plugins);
  const framers = { client_to_server: new LineFramer(), server_to_client: new LineFramer() };
  const shipper = new Shipper(spool, () => resolveTarget(settings), logger);
  const ships = new ShipQueue(spool, shipper);
  const sessionId = newEventId();
  // The command line goes into every event: servers are often given their secrets as arguments (a DSN, --api-key).
  const command = redactedCommandLine(options.command, options.args);
  logger.info(`session ${sessionId}: wrapping ${command}`);

  let enveloped = false;
  const setEnvelope = (userId: string) => {
    if (enveloped) return; // the first envelope stands: events already written carry it
    enveloped = true;
    recorder.setEnvelope({
      orgId: settings.orgId,
      projectId,
      userId,
      machineId: machineId(settings.home),
      sessionId,
      server: { name, command: command.slice(0, 2000) },
    });
  };
  const envelopeReady = resolveUser(process.env).then(setEnvelope);

  const guard = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      // A bug in observation costs us an observation, never the user's session.
      observer.dropped++;
      logger.error(`${what} failed: ${(err as Error).stack ?? err}`);
    }
  };

  const shipTimer = setInterval(() => {
    if (shipper.due()) void ships.pass().catch((err) => logger.error(`shipping failed: ${err}`));
  }, SHIP_INTERVAL_MS);
  shipTimer.unref();

  return {
    started(pid) {
      guard('session start', () =>
        recorder.record({ id: newEventId(startedAt), v: 1, ts: new Date(startedAt).toISOString(), type: 'session.started', transport: 'stdio', pid, kmVersion: KM_VERSION }),
      );
    },
    observeChunks(chunks) {
      for (const { direction, chunk, at } of chunks) {
        guard('observation', () => {
          for (const frame of framers[direction].push(chunk, at)) observer.observe(direction, frame);
        });
      }
    },
    blocked(block) {
      guard('policy block', () =>
        recorder.record({
          id: newEventId(block.at),
          v: 1,
          ts: new Date(block.at).toISOString(),
          type: 'policy.blocked',
          method: block.method.slice(0, 200),
          target: block.target?.slice(0, 1000) ?? null,
          ruleId: block.ruleId,
          reason: block.reason.slice(0, 500),
        }),
      );
    },
    async finish(end) {
      clearInterval(shipTimer);
      // The end must reach the spool at once (the client may SIGKILL us 200 ms after SIGTERM): if the git lookup
      // has not answered yet, the OS user stands in rather than holding every event in memory.
      guard('envelope', () => setEnvelope(osUser()));
      guard('finish', () => {
        for (const direction of ['client_to_server', 'server_to_client'] as const) {
          for (const frame of framers[direction].end(end.at)) observer.observe(direction, frame);
        }
        observer.finish({ exitCode: end.exitCode, signal: end.signal, startedAt, at: end.at });
      });
      const deadline = Date.now() + EXIT_SHIP_BUDGET_MS;
      await envelopeReady; // bounded: git gets 2 s, then the OS user is used
      try {
        const outcome = await ships.pass({ deadline });
        spool.close();
        if (outcome === 'shipped' && spool.own.fullyShipped()) spool.own.remove();
        logger.info(`session ${sessionId} ended (exit ${end.exitCode ?? end.signal}); recorded ${recorder.recorded}, shipped ${shipper.shippedEvents}, dropped ${observer.dropped + spool.dropped}, shipping ${outcome}`);
      } catch (err) {
        logger.error(`final shipping failed: ${err}; events stay in the spool`);
      }
    },
  };
}
