import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKeyAuthenticator, hashApiKey, type ApiKeyRecord } from '../adapters/api-key-authenticator';
import { openSqliteDatabase } from '../adapters/sqlite-database';
import { SqliteEventLog } from '../adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../adapters/sqlite-read-model-store';
import type { Logger } from '../logger';
import { readModelIndexes, readModels } from '../read-models';
import type { HttpDeps } from '../routes';
import { LOCAL_ORG_ID, readOrCreateLocalApiKey } from './local-api-key';
import { startProjectorLoop } from './projector-loop';
import { startBudgetNotifier } from '../budget-webhooks';
import { riskWebhook } from '../risk-webhook';

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
}

export interface EmbeddedStack {
  deps: HttpDeps;
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
    const eventLog = new SqliteEventLog(db);
    const readModelStore = new SqliteReadModelStore(db, { indexes: readModelIndexes });
    const localKey = { keyHash: hashApiKey(readOrCreateLocalApiKey(options.home)), orgId: LOCAL_ORG_ID };
    const authenticator = new ApiKeyAuthenticator([localKey, ...(options.additionalApiKeys ?? [])], {
      ...(options.anonymousOrgId ? { anonymousOrgId: options.anonymousOrgId } : {}),
    });
    const projectorLoop = startProjectorLoop({
      log: eventLog,
      store: readModelStore,
      projections: readModels,
      logger: options.logger,
      ...(options.projectorIntervalMs ? { intervalMs: options.projectorIntervalMs } : {}),
    });
    // Cost Center (#3): budget webhooks, as their own log consumer so a slow hook never holds up projection.
    const budgetNotifier = startBudgetNotifier({
      log: eventLog,
      logger: options.logger,
      ...(options.projectorIntervalMs ? { intervalMs: options.projectorIntervalMs } : {}),
    });
    const webhookUrl = options.riskWebhookUrl ?? process.env.KM_RISK_WEBHOOK_URL;
    const deps: HttpDeps = {
      eventLog,
      readModelStore,
      authenticator,
      now: () => new Date(),
      newBatchId: () => randomUUID(),
      onEventsAppended: () => projectorLoop.notify(),
      ...(webhookUrl ? { onEventsAccepted: riskWebhook({ url: webhookUrl, logger: options.logger }) } : {}),
      ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    };
    return {
      deps,
      async close() {
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

/** SQLite says only "unable to open database file": name the file and the likely cause. */
function openDatabaseIn(home: string): ReturnType<typeof openSqliteDatabase> {
  const path = join(home, 'km.db');
  try {
    return openSqliteDatabase(path);
  } catch (error) {
    throw new Error(`cannot open ${path}: ${(error as Error).message}. Check that ${home} is writable by this user and the disk has room.`);
  }
}
