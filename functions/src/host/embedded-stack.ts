import { randomUUID } from 'node:crypto';
import { costProjection, latencyProjection, riskProjection, sessionsProjection } from '@km/shared';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ApiKeyAuthenticator, hashApiKey, type ApiKeyRecord } from '../adapters/api-key-authenticator';
import { openSqliteDatabase } from '../adapters/sqlite-database';
import { SqliteEventLog } from '../adapters/sqlite-event-log';
import { orgEventsOfLog } from '../adapters/log-org-events';
import { SqliteReadModelStore } from '../adapters/sqlite-read-model-store';
import type { Logger } from '../logger';
import { readModelIndexes, readModels, readModelsNamed } from '../read-models';
import type { HttpDeps } from '../routes';
import { LOCAL_ORG_ID, readOrCreateAuditKey, readOrCreateLocalApiKey } from './local-api-key';
import { auditSigner, newAuditKeyPem } from '../audit/audit-chain';
import { startProjectorLoop, type ProjectorLoop, type ProjectorLoopOptions } from './projector-loop';
import { projectorWorkerFile, startProjectorThread } from './projector-thread';
import { rebuildReadModels, type RebuildProgress } from './rebuild';
import { rebuildWorkerFile, replayOnThreads } from './rebuild-lanes';
import { sqliteRebuildStorage } from '../adapters/sqlite-rebuild-storage';
import { startBudgetNotifier, type BudgetNotifierOptions } from './budget-notifier';
import { BUDGET_WEBHOOK_INDEXES } from '../budget-webhook-deliveries';
import { BUDGET_WEBHOOKS } from '../budget-webhooks';
import { riskWebhook } from '../risk-webhook';
import { sqliteUnavailable } from './sqlite-missing';
import { storedKeyLookup } from '../keys/key-directory';
import { RateLimiter } from '../handlers/rate-limit';
import { MemberDirectory } from '../members/member-directory';
import { sweepRetention } from '../retention/retention';
import { SessionAuthenticator } from '../signin/session-authenticator';
import { SignInSessions } from '../signin/sign-in-sessions';

/**
 * The projector loop folds up to this many events per page, gathered for up to this long after an ingest: fewer
 * writes per event (each bucket a page touches is written once), for dashboards at most a fraction of a second behind.
 */
const PROJECTOR_PAGE_EVENTS = 2000;
const PROJECTOR_COALESCE_MS = 100;
const RETENTION_SWEEP_MS = 3600_000;
/**
 * The dashboard's read models, whose documents queries keep decoded (a month of the org's latency is ~3.5 MB of
 * JSON; 32 MB holds it with the risk, session and cost documents beside); interaction pages are read once each.
 */
const QUERY_CACHE = { bytes: 32 * 1024 * 1024, models: [latencyProjection.name, riskProjection.name, sessionsProjection.name, costProjection.name] };

export interface EmbeddedStackOptions {
  home: string;
  logger: Logger;
  /** Org for requests without an Authorization header; only ever set when listening on loopback. */
  anonymousOrgId?: string;
  /** More tenants besides the local key's (tests, a shared team server). */
  additionalApiKeys?: readonly ApiKeyRecord[];
  maxBodyBytes?: number;
  projectorIntervalMs?: number;
  /** risk monitor: where to post high-severity findings; default KM_RISK_WEBHOOK_URL, none when empty. */
  riskWebhookUrl?: string;
  /** Read models to replay from the log into fresh copies while the live ones keep answering (km serve --rebuild). */
  rebuild?: readonly string[];
  onRebuildProgress?: (progress: RebuildProgress) => void;
  /**
   * The compiled projector worker (default: the one next to this module); null runs the projector loop on this
   * thread (ts-jest has no compiled worker).
   */
  projectorWorkerFile?: string | null;
  /** The compiled rebuild worker, whose lanes fold a rebuild on every core (default: beside this module); null folds it on this thread. */
  rebuildWorkerFile?: string | null;
  /** Requests a minute per key; default KM_RATE_LIMIT_PER_MINUTE, else 6000. */
  requestsPerMinute?: number;
  /** Tests: the budget notifier's clock, retry schedule and first burst's waits (default: real time, BUDGET_WEBHOOK_RETRIES). */
  budgetNotifier?: Pick<BudgetNotifierOptions, 'now' | 'retries' | 'baseDelayMs'>;
}

export interface EmbeddedStack {
  deps: HttpDeps;
  /** Runs a retention sweep now (tests; km serve sweeps at start and every hour). */
  sweepRetention(): Promise<unknown>;
  /** Runs the budget notifier now and waits for it: its deliveries and due retries (tests; it runs every second). */
  notifyBudgetWebhooks(): Promise<void>;
  /** What the host's sign-in endpoints need (functions/src/signin). */
  signIn: { keys: ApiKeyAuthenticator; sessions: SignInSessions; members: MemberDirectory };
  /** How the rebuild asked for ended (a failure is also logged); null: none asked. Never rejects. */
  rebuilt: Promise<'done' | 'stopped' | 'failed'> | null;
  close(): Promise<void>;
}

/**
 * The ports of the embedded run mode under KM_HOME: one SQLite file for the log and the read models, the local
 * API key, and the in-process projector loop. Used by `km serve` and by the Functions app with KM_STORAGE=sqlite.
 */
export function openEmbeddedStack(options: EmbeddedStackOptions): EmbeddedStack {
  mkdirSync(options.home, { recursive: true, mode: 0o700 });
  const db = openDatabaseIn(options.home);
  try {
    // Refused before anything starts.
    const toRebuild = options.rebuild ? readModelsNamed(options.rebuild) : null;
    const eventLog = new SqliteEventLog(db);
    const readModelStore = new SqliteReadModelStore(db, { indexes: [...readModelIndexes, ...BUDGET_WEBHOOK_INDEXES], queryCache: QUERY_CACHE });
    const orgEvents = orgEventsOfLog(eventLog);
    const localKey = { keyHash: hashApiKey(readOrCreateLocalApiKey(options.home)), orgId: LOCAL_ORG_ID };
    const keys = new ApiKeyAuthenticator([localKey, ...(options.additionalApiKeys ?? [])], {
      ...(options.anonymousOrgId ? { anonymousOrgId: options.anonymousOrgId } : {}),
      lookupKey: storedKeyLookup(readModelStore),
    });
    // Teams (#14): dashboards signed in with a key or GitHub carry a session cookie instead of a key.
    const sessions = new SignInSessions();
    // A GitHub session is checked against the member directory (made below, once the projector loop it wakes is).
    const authenticator = new SessionAuthenticator(keys, sessions, { membershipOf: (login, orgId) => members.membershipOf(login, orgId) });
    const loopOptions: Pick<ProjectorLoopOptions, 'intervalMs' | 'maxBatch' | 'coalesceMs'> = {
      ...(options.projectorIntervalMs ? { intervalMs: options.projectorIntervalMs } : {}),
      maxBatch: PROJECTOR_PAGE_EVENTS,
      coalesceMs: PROJECTOR_COALESCE_MS,
    };
    // On its own thread where it can be (issue 11): folding then uses the second core, and requests never wait
    // for a page being folded.
    const workerFile = options.projectorWorkerFile === undefined ? projectorWorkerFile() : options.projectorWorkerFile;
    const projectorLoop: ProjectorLoop = workerFile
      ? startProjectorThread({ workerFile, dbPath: join(options.home, 'km.db'), loop: loopOptions, logger: options.logger })
      : startProjectorLoop({ log: eventLog, store: readModelStore, projections: readModels, logger: options.logger, ...loopOptions });
    // Cost Center (#3): budget webhooks, as their own log consumer so a slow hook never holds up projection.
    const budgetNotifier = startBudgetNotifier({
      log: eventLog,
      store: readModelStore,
      logger: options.logger,
      ...options.budgetNotifier,
      ...(options.projectorIntervalMs ? { intervalMs: options.projectorIntervalMs } : {}),
    });
    let closing = false;
    /**
     * Sweeps and the rebuild one after the other: a sweep that cut the log while a rebuild replayed it left the rebuilt
     * read models holding part of what it removed, and a rebuild refolds previews from the events the log still
     * keeps, which only the next sweep removes. So the rebuild waits for the sweep at start, sweeps wait for the
     * rebuild to switch, and a sweep follows the switch.
     */
    let maintenance: Promise<unknown> = Promise.resolve();
    const oneAtATime = <T>(task: () => Promise<T>): Promise<T> => {
      const run = maintenance.then(task, task);
      maintenance = run.catch(() => undefined);
      return run;
    };
    // Teams and compliance (#14): retention, at start and every hour; a failed sweep is logged and tried again.
    // The log is the projectors' input too: the sweep cuts no event that one of them (or the budget webhooks) has not read.
    const consumers = [...readModels.map((model) => model.name), BUDGET_WEBHOOKS];
    const foldedUpTo = async () => Math.min(...(await Promise.all(consumers.map((name) => eventLog.getCheckpoint(name)))));
    const unfoldedSince = async () => (await eventLog.read(await foldedUpTo(), 1))[0]?.event.receivedAt ?? null;
    const sweep = () =>
      oneAtATime(() => projectorLoop.exclusive(() => sweepRetention(orgEvents, readModelStore, new Date(), { foldedUpTo, unfoldedSince }))).catch((error: unknown) =>
        options.logger.error(`retention sweep failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    const sweeping = { current: sweep() as Promise<unknown> };
    const sweepTimer = setInterval(() => (sweeping.current = sweep()), RETENTION_SWEEP_MS);
    sweepTimer.unref();
    const rebuildFile = options.rebuildWorkerFile === undefined ? rebuildWorkerFile() : options.rebuildWorkerFile;
    const rebuilt = toRebuild
      ? oneAtATime(() => rebuildReadModels({
          // The bulk on worker threads where they can run (a rebuild of all of them at 15k events/s needs both cores).
          ...(rebuildFile
            ? { replay: replayOnThreads({ workerFile: rebuildFile, dbPath: join(options.home, 'km.db'), maxBatch: PROJECTOR_PAGE_EVENTS, lanes: Math.min(availableParallelism(), toRebuild.length) }) }
            : {}),
          log: eventLog,
          store: readModelStore,
          storage: sqliteRebuildStorage(db),
          projections: toRebuild,
          stopped: () => closing,
          hold: (fn) => projectorLoop.exclusive(fn),
          ...(options.onRebuildProgress ? { onProgress: options.onRebuildProgress } : {}),
        })).then(
          (done) => {
            if (done && !closing) sweeping.current = sweep();
            return (done ? 'done' : 'stopped') as 'done' | 'stopped';
          },
          (error: unknown) => {
            options.logger.error(`rebuild failed; the live read models are unchanged: ${error instanceof Error ? error.message : String(error)}`);
            return 'failed' as const;
          },
        )
      : null;
    const webhookUrl = options.riskWebhookUrl ?? process.env.KM_RISK_WEBHOOK_URL;
    const deps: HttpDeps = {
      eventLog,
      readModelStore,
      authenticator,
      now: () => new Date(),
      newBatchId: () => randomUUID(),
      onEventsAppended: () => projectorLoop.notify(),
      auditSigner: auditSigner(readOrCreateAuditKey(options.home, newAuditKeyPem)),
      orgEvents,
      rateLimiter: new RateLimiter(options.requestsPerMinute ?? requestsPerMinuteFromEnv()),
      // The landing page km serve shows is this machine's: its views count in the local org's funnel.
      funnelOrgId: LOCAL_ORG_ID,
      ...(webhookUrl ? { onEventsAccepted: riskWebhook({ url: webhookUrl, logger: options.logger }) } : {}),
      ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    };
    const members = new MemberDirectory(
      readModelStore,
      async (events) => {
        await eventLog.append(events);
        projectorLoop.notify();
      },
      deps.now,
      deps.newBatchId,
    );
    return {
      deps,
      signIn: { keys, sessions, members },
      rebuilt,
      sweepRetention: () => (sweeping.current = sweep()),
      async notifyBudgetWebhooks() {
        budgetNotifier.notify();
        await budgetNotifier.idle();
      },
      async close() {
        closing = true;
        clearInterval(sweepTimer);
        await sweeping.current;
        await rebuilt;
        await projectorLoop.stop();
        await budgetNotifier.stop();
        db.close();
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** KM_RATE_LIMIT_PER_MINUTE for km serve, which reads no Functions settings; a bad value is refused at start. */
function requestsPerMinuteFromEnv(): number | undefined {
  const text = process.env.KM_RATE_LIMIT_PER_MINUTE;
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`KM_RATE_LIMIT_PER_MINUTE must be a whole number of requests a minute, not "${text}"`);
  return value;
}

/** SQLite says only "unable to open database file": name the file and the likely cause. */
function openDatabaseIn(home: string): ReturnType<typeof openSqliteDatabase> {
  const path = join(home, 'km.db');
  try {
    return openSqliteDatabase(path);
  } catch (error) {
    throw sqliteUnavailable(error) ?? new Error(`cannot open ${path}: ${(error as Error).message}. Check that ${home} is writable by this user and the disk has room.`);
  }
}
