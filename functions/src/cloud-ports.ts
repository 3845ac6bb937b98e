import { app } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { ApiKeyAuthenticator } from './adapters/api-key-authenticator';
import { storedKeyLookup } from './keys/key-directory';
import { RateLimiter } from './handlers/rate-limit';
import { MemberDirectory } from './members/member-directory';
import { ClientPrincipalAuthenticator } from './signin/client-principal';
import { openAzurePorts, type AzureClientOverrides } from './azure-ports';
import { auditSignerFromSetting, loadAzureSettings } from './azure-settings';
import { errorResponse, type HttpHandler } from './handlers/http-results';
import { openEmbeddedStack } from './host/embedded-stack';
import { describeError, stderrLogger } from './logger';
import { riskWebhook } from './risk-webhook';
import { StoreOrgEventArchive } from './adapters/store-org-event-archive';
import { sweepRetention } from './retention/retention';
import type { SweepOutcome } from './handlers/retention-sweep';
import type { EventLog, ReadModelStore } from './ports';
import type { HttpDeps, HttpRouteSpec } from './routes';
import { loadFunctionsSettings } from './settings';
import { startTelemetry, type Telemetry } from './telemetry';

interface WorkerPorts {
  deps: HttpDeps;
  /** The audit archive the archive trigger fills (KM_STORAGE=azure; the embedded log needs none). */
  archive: StoreOrgEventArchive | null;
  /** One retention sweep: over the read models and the archive in Azure; the embedded stack's own on sqlite. */
  sweepRetention(): Promise<SweepOutcome>;
  close(): Promise<void>;
}

let ports: Promise<WorkerPorts> | null = null;
let overrides: AzureClientOverrides = {};

/** Tests only: what the Azure clients need to talk to the local test servers (see azure-ports.ts). */
export function setAzureClientOverridesForTests(next: AzureClientOverrides): void {
  overrides = next;
}

/** This worker's telemetry: Application Insights when its connection string is set, else nothing. */
export function cloudTelemetry(): Telemetry {
  return startTelemetry();
}

/**
 * The ports of this Functions worker, built on first use from app settings and shared by every Function in it:
 * KM_STORAGE=azure opens Event Hubs and Cosmos DB; sqlite the embedded stack (one database and one projector loop).
 */
async function buildPorts(): Promise<WorkerPorts> {
  const settings = loadFunctionsSettings();
  if (settings.storage === 'sqlite') {
    // No anonymous org here: a Functions host may listen beyond loopback; callers send the key from KM_HOME/api-key.
    const stack = openEmbeddedStack({
      home: settings.home!,
      logger: stderrLogger,
      additionalApiKeys: settings.apiKeys,
      ...(settings.maxIngestBytes ? { maxBodyBytes: settings.maxIngestBytes } : {}),
      ...(settings.riskWebhookUrl ? { riskWebhookUrl: settings.riskWebhookUrl } : {}),
      ...(settings.requestsPerMinute ? { requestsPerMinute: settings.requestsPerMinute } : {}),
    });
    return { deps: stack.deps, archive: null, sweepRetention: () => stack.sweepRetention().then(() => null), close: () => stack.close() };
  }
  const azureSettings = loadAzureSettings();
  const azure = openAzurePorts(azureSettings, cloudTelemetry(), overrides);
  const archive = new StoreOrgEventArchive(azure.readModelStore);
  const audit = auditSignerFromSetting(azureSettings.auditSigningKeyPem);
  if ('auditSignerProblem' in audit) stderrLogger.warn(`GET /api/audit answers 501: ${audit.auditSignerProblem}`);
  const keys = new ApiKeyAuthenticator(settings.apiKeys, { lookupKey: storedKeyLookup(azure.readModelStore) });
  const newBatchId = () => randomUUID();
  const members = new MemberDirectory(azure.readModelStore, async (events) => void (await azure.eventLog.append(events)), () => new Date(), newBatchId);
  const deps: HttpDeps = {
    eventLog: azure.eventLog,
    readModelStore: azure.readModelStore,
    authenticator: settings.trustSwaPrincipal ? new ClientPrincipalAuthenticator(keys, members, settings.signUp) : keys,
    rateLimiter: new RateLimiter(settings.requestsPerMinute),
    now: () => new Date(),
    newBatchId,
    ...(settings.maxIngestBytes ? { maxBodyBytes: settings.maxIngestBytes } : {}),
    ...(settings.riskWebhookUrl ? { onEventsAccepted: riskWebhook({ url: settings.riskWebhookUrl, logger: stderrLogger }) } : {}),
    ...(settings.funnelOrgId ? { funnelOrgId: settings.funnelOrgId } : {}),
    orgEvents: archive,
    ...audit,
  };
  return { deps, archive, sweepRetention: () => sweepRetention(archive, azure.readModelStore, new Date()), close: () => azure.close() };
}


function workerPorts(): Promise<WorkerPorts> {
  ports ??= buildPorts();
  const current = ports;
  // Not cached when it fails: fixing the settings and retrying must work without a restart.
  current.catch(() => {
    if (ports === current) ports = null;
  });
  return current;
}

/** The event log of this worker, for the events projector documents imply (budget thresholds). */
export async function cloudEventLog(): Promise<EventLog> {
  return (await workerPorts()).deps.eventLog;
}

/** The audit archive of this worker, for its trigger (functions/audit-archive.ts). */
export async function cloudOrgEventArchive(): Promise<StoreOrgEventArchive> {
  const { archive } = await workerPorts();
  if (!archive) throw new Error('the audit archive trigger runs with KM_STORAGE=azure only (the embedded log is its own archive): disable it with AzureWebJobs.audit-archive.Disabled=true');
  return archive;
}

/** One retention sweep of this worker's stores, for the hourly timer (functions/retention-sweep.ts). */
export async function cloudRetentionSweep(): Promise<SweepOutcome> {
  return (await workerPorts()).sweepRetention();
}

/** The read-model store of this worker, for the projector triggers. */
export async function cloudReadModelStore(): Promise<ReadModelStore> {
  return (await workerPorts()).deps.readModelStore;
}

/**
 * The handler an Azure registration uses: builds the ports lazily, so a module loads (and registers) without
 * settings or a network, and a configuration error becomes a logged 503 instead of a worker that fails to start.
 */
export function cloudHandler(spec: HttpRouteSpec): HttpHandler {
  let handler: HttpHandler | null = null;
  return async (request, context) => {
    if (!handler) {
      try {
        handler = spec.makeHandler((await workerPorts()).deps);
      } catch (error) {
        context.error(`${spec.name}: cannot build the app's ports: ${describeError(error)}`);
        return errorResponse(503, 'the service is not configured: its operator should check the Function app logs and settings.');
      }
    }
    return handler(request, context);
  };
}

/** Closes what this worker opened: the embedded stack or the Azure clients (also used by tests). */
export async function closeCloudPorts(): Promise<void> {
  const current = ports;
  ports = null;
  const built = await current?.catch(() => null);
  await built?.close();
}

app.hook.appTerminate(() => closeCloudPorts());
