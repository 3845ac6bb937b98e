import type { Direction, Envelope } from '@km/shared';
import { derivedEventId, newEventId } from '@km/shared/dist/ids';
import { userInfo } from 'node:os';
import { fitName, machineId, MAX_NAME_LENGTH, resolveProject, resolveUser, serverName } from '../config/attribution';
import type { ProjectConfigFile } from '../config/project-config';
import { journaledObservationEnv } from '../config/observation-env';
import { ensureHome, loadSettings, placeholderOrgOf, resolveTarget, type Settings } from '../config/settings';
import { fileLogger, type Logger } from '../log';
import { ShipQueue, Shipper } from '../ship';
import { Spool } from '../spool';
import { KM_VERSION } from '../version';
import { redactedCommandLine } from './command-line';
import { claimDeadJournals, JournalFiles, type JournalAck, type JournalBatch } from './journal';
import { LineFramer } from './line-framer';
import { SessionObserver, type EventDraft, type ObserveMode, type ObserverPlugin, type ClientEnded } from './observer';
import type { PolicyBlock } from './observer-protocol';
import type { Observed } from './observer-queue';
import { observerPlugins } from './plugins';
import { Recorder } from './recorder';
import type { WrapOptions } from './run';


/** How often a running wrapper ships, and how long it may spend shipping while exiting. */
const SHIP_INTERVAL_MS = 1000;
const EXIT_SHIP_BUDGET_MS = 1500;
/** How often the observer writes its journal progress while batches come in. */
const ACK_INTERVAL_MS = 20;

const osUser = () => {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
};

type Chunk = { direction: Direction; chunk: Buffer; at: number };

export interface WrapSession {
  /** The backlog bound (KM_OBSERVER_BACKLOG_BYTES) the observer thread's queue applies. */
  readonly backlogBytes: number;
  started(pid: number): void;
  /** A batch that could not be read back from the journal: counted as one dropped observation. */
  lost(seq: number, why: string): void;
  /** seq: the batch's number in the journal; mode: how much of it to make, as far behind as the observer is. */
  observeChunks(seq: number, batch: Observed, mode?: ObserveMode): void;
  finish(end: { exitCode: number | null; signal: NodeJS.Signals | null; at: number; startError?: string; clientEnded?: ClientEnded }): Promise<void>;
  journalFailed(reason: string): void;
}

/** Everything off the hot path for one wrapped server: framing, pairing, the spool and the shipper. */
/** projectConfig: the km.json the forwarding thread found (read once per session, see run.ts). */
/** journal: the files the forwarding thread journals to; onSpooled tells it which batches it may drop. */
export function startSession(
  options: WrapOptions,
  startedAt: number,
  projectConfig: ProjectConfigFile | null,
  journalFiles: JournalFiles | null = null,
  onSpooled: (neededFrom: number) => void = () => {},
): WrapSession {
  const settings = loadSettings();
  ensureHome(settings.home);
  const logger: Logger = fileLogger(settings.home, settings.debug);
  const spool = new Spool(settings.home, settings.maxSpoolBytes, logger); // the full-spool warning goes to km.log (stderr only with KM_DEBUG)
  const recorder = new Recorder(spool);
  const sessionId = newEventId();
  const identity = sessionIdentity(settings, options, projectConfig, process.env);
  const plugins = observerPlugins({ settings, logger, projectId: identity.projectId, projectConfig, serverName: identity.name, sessionId, transport: transportOf(options), replay: false, env: process.env, whenRecorded: (fn) => recorder.whenWritten(fn) });
  const stream = observedStream(sessionId, (draft) => recorder.record(draft), plugins, logger);
  const { observer } = stream;
  const placeholderOrg = placeholderOrgOf(settings);
  const shipper = new Shipper(spool, () => resolveTarget(settings), logger, placeholderOrg === null ? null : { placeholderOrg, sessionId });
  const ships = new ShipQueue(spool, shipper);
  logger.info(`session ${sessionId}: wrapping ${identity.command}`);
  if (resolveProject(options.project, process.env, projectConfig).length > MAX_NAME_LENGTH) logger.warn(`the project name is over ${MAX_NAME_LENGTH} characters: its first ${MAX_NAME_LENGTH} name the session`);
  if ((process.env.KM_USER ?? '').length > MAX_NAME_LENGTH) logger.warn(`KM_USER is over ${MAX_NAME_LENGTH} characters: its first ${MAX_NAME_LENGTH} name the session's user`);

  let journal = journalFiles;
  // A journal no longer kept up to date is removed: replayed, it would end this session a second time.
  const stopJournal = () => {
    try {
      journal?.remove();
    } catch {
      // what is left is replayed later; its ids are the ones already spooled
    }
    journal = null;
  };
  const journaling = (what: string, fn: (files: JournalFiles) => void) => {
    if (!journal) return;
    try {
      fn(journal);
    } catch (err) {
      // Without the observer's progress the journal cannot be trimmed: the forwarding thread stops writing it.
      logger.error(`journal ${journal.base}: cannot write the ${what}: ${(err as Error).message}; journaling stops for this session`);
      stopJournal();
      onSpooled(Number.POSITIVE_INFINITY);
    }
  };
  const sessionRecord = (envelope: Envelope | null) => ({ sessionId, startedAt, options, projectConfig, envelope });
  journaling('session file', (files) => files.writeSession(sessionRecord(null)));

  let childPid = 0;
  let startedRecorded = false;
  /**
   * Writes how far the spool has the journal's batches, then lets the forwarding thread drop what is not needed.
   * Batch by batch it is written at most every ACK_INTERVAL_MS: an ack a little behind only means a replay re-makes
   * a few events with the ids they already have (ingest keeps one), while one file write per batch costs CPU the
   * forwarding thread shares.
   */
  let ackTimer: NodeJS.Timeout | null = null;
  const acknowledgeSoon = () => {
    if (!ackTimer) ackTimer = setTimeout(() => acknowledge(), ACK_INTERVAL_MS);
  };
  const acknowledge = (end: JournalAck['end'] = null) => {
    if (ackTimer) clearTimeout(ackTimer);
    ackTimer = null;
    if (!journal || recorder.holding) return; // events waiting for the envelope are not in the spool yet
    const neededFrom = stream.neededFrom();
    journaling('progress', (files) =>
      files.writeAck({ spooledThrough: stream.lastSeq, neededFrom, started: startedRecorded, childPid, dropped: observer.dropped + spool.dropped, end, at: stream.lastAt, identity: observer.identity, openPrivateKeys: observer.openPrivateKeys }),
    );
    if (journal) onSpooled(neededFrom);
  };

  let enveloped = false;
  const setEnvelope = (userId: string) => {
    if (enveloped) return; // the first envelope stands: events already written carry it
    enveloped = true;
    const envelope = envelopeOf(settings, identity, sessionId, userId);
    recorder.setEnvelope(envelope);
    journaling('session file', (files) => files.writeSession(sessionRecord(envelope)));
    acknowledge();
  };
  const envelopeReady = resolveUser(process.env).then(setEnvelope);

  const shipTimer = setInterval(() => {
    if (shipper.due()) void ships.pass().catch((err) => logger.error(`shipping failed: ${err}`));
  }, SHIP_INTERVAL_MS);
  shipTimer.unref();

  // Journals of km processes that died (kill -9, a crash) go into this session's spool, off the forwarding thread.
  setTimeout(() => void replayDeadJournals(settings, spool, logger).catch((err) => logger.error(`journal replay failed: ${err}`)), 0).unref();

  return {
    backlogBytes: settings.observerBacklogBytes,
    lost(seq, why) {
      observer.dropped++;
      logger.error(`batch ${seq} could not be read back from the journal (${why}); its observations are lost`);
    },
    started(pid) {
      childPid = pid;
      stream.started(pid, startedAt, transportOf(options));
      startedRecorded = true;
      acknowledge();
    },
    observeChunks(seq, batch, mode = 'full') {
      stream.batch(seq, batch, false, mode);
      acknowledgeSoon();
    },
    journalFailed(reason) {
      if (journal) logger.error(`journal ${journal.base}: ${reason}; journaling stops for this session (a kill -9 may lose its last calls)`);
      stopJournal();
    },
    async finish(end) {
      clearInterval(shipTimer);
      // The end must reach the spool at once (the client may SIGKILL us 200 ms after SIGTERM): if the git lookup
      // has not answered yet, the OS user stands in rather than holding every event in memory.
      guarded(observer, logger, 'envelope', () => setEnvelope(osUser()));
      // The end is noted before it is made: a replay after a kill right here makes the same end, with the same ids.
      acknowledge(end);
      stream.finish({ ...end, startedAt });
      if (journal && !recorder.holding) journal.remove(); // all of it is in the spool now
      const deadline = Date.now() + EXIT_SHIP_BUDGET_MS;
      // Exporters send their last batch while the spool ships (the end is in the spool already).
      const flushed = Promise.race([Promise.allSettled(plugins.map((p) => p.flush?.())), new Promise((r) => setTimeout(r, EXIT_SHIP_BUDGET_MS).unref())]);
      await envelopeReady; // bounded: git gets 2 s, then the OS user is used
      try {
        const [outcome] = await Promise.all([ships.pass({ deadline }), flushed]);
        spool.close();
        if (outcome === 'shipped' && spool.own.fullyShipped()) spool.own.remove();
        logger.info(
          `session ${sessionId} ended (exit ${end.exitCode ?? end.signal}); recorded ${recorder.recorded}, shipped ${shipper.shippedEvents}, dropped ${observer.dropped + spool.dropped + recorder.dropped} (and ${observer.droppedPreviews + recorder.droppedPreviews} previews), shipping ${outcome}`,
        );
      } catch (err) {
        logger.error(`final shipping failed: ${err}; events stay in the spool`);
      }
    },
  };
}

/**
 * Replays the journals of km processes that died into `spool`: each through a fresh observer of the same session
 * (same id and envelope, same plugins, so the same redaction), from the oldest batch still needed, muting what the
 * batches already spooled make, then ends the session as killed. Returns how many journals were replayed.
 */
export async function replayDeadJournals(settings: Settings, spool: Spool, logger: Logger): Promise<number> {
  let replayed = 0;
  // Only journals of a km killed before it knew its user need one; git is asked once for all of them.
  let gitUser: Promise<string> | null = null;
  const userOf = (env: NodeJS.ProcessEnv) => (env.KM_USER ? Promise.resolve(env.KM_USER) : (gitUser ??= resolveUser({})));
  for (const files of claimDeadJournals(settings.home)) {
    try {
      await replayJournal(files, settings, spool, logger, userOf);
      files.remove();
      replayed++;
    } catch (err) {
      logger.error(`journal ${files.base}: replay failed: ${(err as Error).stack ?? err}; it stays for the next try`);
      files.release();
    }
  }
  return replayed;
}

async function replayJournal(files: JournalFiles, settings: Settings, spool: Spool, logger: Logger, userOf: (env: NodeJS.ProcessEnv) => Promise<string>): Promise<void> {
  const session = files.readSession();
  const ack = files.readAck();
  const { header, batches, end: seenEnd, tornBytes } = files.read();
  if (tornBytes > 0) logger.warn(`journal ${files.base}: skipped ${tornBytes} bytes of a record cut short by the kill`);
  const startedAt = session?.startedAt ?? header?.startedAt;
  const options = (session?.options ?? header?.options) as WrapOptions | undefined;
  if (typeof startedAt !== 'number' || !options || typeof options.command !== 'string') return; // nothing that could be replayed
  const projectConfig = (session?.projectConfig ?? header?.projectConfig ?? null) as ProjectConfigFile | null;
  const sessionId = session?.sessionId ?? newEventId(startedAt);
  // The variables the killed km was started with (a client's config entry sets them); a journal of an older km has
  // none, and its replay reads this process's as it always did.
  const journaled = journaledObservationEnv(header?.env);
  const env: NodeJS.ProcessEnv = journaled ?? process.env;
  const identity = sessionIdentity(settings, options, projectConfig, env);
  // The org as the killed km had it: its KM_ORG, else this KM_HOME's login (the replayer's KM_ORG is not its).
  const orgOf = journaled ? { ...settings, orgId: loadSettings({ KM_HOME: settings.home, ...(journaled.KM_ORG ? { KM_ORG: journaled.KM_ORG } : {}) }).orgId } : settings;
  const envelope = (session?.envelope as Envelope | null) ?? envelopeOf(orgOf, identity, sessionId, await userOf(env));
  const recorder = new Recorder(spool);
  recorder.setEnvelope(envelope);
  const plugins = observerPlugins({ settings, logger, projectId: envelope.projectId, projectConfig, serverName: envelope.server.name, sessionId, transport: transportOf(options), replay: true, env, whenRecorded: (fn) => recorder.whenWritten(fn) });
  const stream = observedStream(sessionId, (draft) => recorder.record(draft), plugins, logger);
  if (!ack?.started) stream.started(ack?.childPid ?? 0, startedAt, transportOf(options));
  stream.observer.resume(ack?.identity ?? null, ack?.openPrivateKeys);
  const spooledThrough = ack?.spooledThrough ?? 0;
  let at = ack?.at ?? startedAt;
  let counted = false;
  for (const batch of batches) {
    if (batch.seq < (ack?.neededFrom ?? 1)) continue;
    const muted = batch.seq <= spooledThrough;
    // What the muted batches drop was counted before the kill, in the ack.
    if (!muted && !counted) counted = resetDropped(stream.observer, ack);
    stream.batch(batch.seq, { chunks: chunksOf(batch), blocks: batch.blocks }, muted);
    at = Math.max(at, ...batch.times);
  }
  if (!counted) resetDropped(stream.observer, ack);
  // The end the observer was recording, else what the forwarding thread saw (a signal, an exit), else the kill itself.
  const end = ack?.end ?? seenEnd ?? { exitCode: null, signal: 'SIGKILL', at };
  stream.finish({ ...end, startedAt });
  logger.info(`journal ${files.base}: replayed session ${sessionId} (${batches.length} batch(es), ${spooledThrough} already spooled); recorded ${recorder.recorded}`);
}

function resetDropped(observer: SessionObserver, ack: JournalAck | null): true {
  observer.dropped = ack?.dropped ?? 0;
  observer.droppedPreviews = ack?.droppedPreviews ?? 0;
  return true;
}

function chunksOf(batch: JournalBatch): Chunk[] {
  return batch.chunks.map((chunk, i) => ({ direction: batch.directions[i] === 0 ? 'client_to_server' : 'server_to_client', chunk, at: batch.times[i]! }));
}

const transportOf = (options: WrapOptions) => (options.url ? ('http' as const) : ('stdio' as const));

/** Who and what the session is attributed to, the same way live and on replay. */
function sessionIdentity(settings: Settings, options: WrapOptions, projectConfig: ProjectConfigFile | null, env: NodeJS.ProcessEnv) {
  return {
    projectId: fitName(resolveProject(options.project, env, projectConfig)),
    name: serverName(options.name, options.command, options.args),
    // The command line goes into every event: servers are often given their secrets as arguments (a DSN, --api-key).
    command: redactedCommandLine(options.command, options.args),
    machineId: machineId(settings.home),
  };
}

function envelopeOf(settings: Settings, identity: ReturnType<typeof sessionIdentity>, sessionId: string, userId: string): Envelope {
  return {
    orgId: settings.orgId,
    projectId: identity.projectId,
    userId: fitName(userId),
    machineId: identity.machineId,
    sessionId,
    server: { name: identity.name, command: identity.command.slice(0, 2000) },
  };
}

function policyBlocked(block: PolicyBlock): EventDraft {
  return {
    id: '',
    v: 1,
    ts: new Date(block.at).toISOString(),
    type: 'policy.blocked',
    method: block.method.slice(0, 200),
    target: block.target?.slice(0, 1000) ?? null,
    ruleId: block.ruleId,
    reason: block.reason.slice(0, 500),
  } as EventDraft;
}

/** A bug in observation costs us an observation, never the user's session. */
function guarded(observer: SessionObserver, logger: Logger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    observer.dropped++;
    logger.error(`${what} failed: ${(err as Error).stack ?? err}`);
  }
}

/**
 * Frames and observes one session's batches. Each event's id is derived from the session id and where it was made
 * (batch number, order within it), so a replay of the journal makes the same ids and ingest keeps one of each. It
 * also knows the oldest batch still needed: where a pending request, or a line not yet complete, began.
 */
function observedStream(sessionId: string, record: (draft: EventDraft) => void, plugins: ObserverPlugin[], logger: Logger) {
  let place = 'start';
  let made = 0;
  let muted = false;
  const emit = (draft: EventDraft) => {
    if (muted) return;
    record({ ...draft, id: derivedEventId(Date.parse(draft.ts), `${sessionId}/${place}/${made++}`) } as EventDraft);
  };
  const observer = new SessionObserver(emit, plugins);
  const framers = { client_to_server: new LineFramer(), server_to_client: new LineFramer() };
  const lineSince: Record<Direction, number | null> = { client_to_server: null, server_to_client: null };
  const stream = {
    observer,
    lastSeq: 0,
    lastAt: 0,
    started(pid: number, startedAt: number, transport: 'stdio' | 'http') {
      guarded(observer, logger, 'session start', () =>
        record({ id: derivedEventId(startedAt, `${sessionId}/started`), v: 1, ts: new Date(startedAt).toISOString(), type: 'session.started', transport, pid, kmVersion: KM_VERSION }),
      );
    },
    batch(seq: number, { chunks, blocks }: Observed, mute = false, mode: ObserveMode = 'full') {
      place = String(seq);
      made = 0;
      muted = mute;
      // Before the chunks: a refusal is noted before its line is tapped. Never dropped in a backlog: a few are
      // made per session at most, and each is a security event.
      for (const block of blocks ?? []) {
        guarded(observer, logger, 'policy block', () => emit(policyBlocked(block)));
        // Also when muted (a replay of what was spooled): the pairing state must hold what the gate answered.
        observer.refusedByPolicy(block.requestIds ?? []);
      }
      for (const { direction, chunk, at, channel } of chunks) {
        guarded(observer, logger, 'observation', () => {
          const began = lineSince[direction] ?? seq;
          const lastNewline = chunk.lastIndexOf(0x0a);
          lineSince[direction] = lastNewline === chunk.length - 1 ? null : lastNewline === -1 ? began : seq;
          const frames = framers[direction].push(chunk, at);
          frames.forEach((frame, i) => observer.observe(direction, frame, i === 0 ? began : seq, mode, channel));
        });
        stream.lastAt = at;
      }
      observer.refusalsSeen();
      muted = false;
      stream.lastSeq = seq;
    },
    /** The oldest batch a replay needs once everything up to lastSeq is spooled. */
    neededFrom(): number {
      const marks = [observer.oldestPendingMark(), lineSince.client_to_server, lineSince.server_to_client].filter((m): m is number => m !== null);
      return Math.min(stream.lastSeq + 1, ...marks);
    },
    finish(end: { exitCode: number | null; signal: string | null; startedAt: number; at: number; startError?: string; clientEnded?: ClientEnded }) {
      place = 'end';
      made = 0;
      guarded(observer, logger, 'finish', () => {
        for (const direction of ['client_to_server', 'server_to_client'] as const) {
          for (const frame of framers[direction].end(end.at)) observer.observe(direction, frame, stream.lastSeq);
        }
        observer.finish(end);
      });
    },
  };
  return stream;
}
