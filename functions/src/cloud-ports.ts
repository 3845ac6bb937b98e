import { app } from '@azure/functions';
import { errorResponse, type HttpHandler } from './handlers/http-results';
import { openEmbeddedStack, type EmbeddedStack } from './host/embedded-stack';
import { describeError, stderrLogger } from './logger';
import type { HttpDeps, HttpRouteSpec } from './routes';
import { loadFunctionsSettings } from './settings';

export const AZURE_PORTS_NOT_AVAILABLE =
  'KM_STORAGE=azure: the Event Hubs and Cosmos DB adapters are not yet available. ' +
  'Set KM_STORAGE=sqlite and KM_HOME=<a directory> to run these Functions on the embedded SQLite stack, or use `km serve`.';

let ports: Promise<{ deps: HttpDeps; stack: EmbeddedStack | null }> | null = null;

/**
 * The ports of this Functions worker, built on first use from app settings and shared by every Function in it:
 * one database connection and one projector loop per process, however many Functions are registered.
 */
async function buildPorts(): Promise<{ deps: HttpDeps; stack: EmbeddedStack | null }> {
  const settings = loadFunctionsSettings();
  if (settings.storage === 'sqlite') {
    // No anonymous org here: a Functions host may listen beyond loopback; callers send the key from KM_HOME/api-key.
    const stack = openEmbeddedStack({
      home: settings.home!,
      logger: stderrLogger,
      additionalApiKeys: settings.apiKeys,
      ...(settings.maxIngestBytes ? { maxBodyBytes: settings.maxIngestBytes } : {}),
    });
    return { deps: stack.deps, stack };
  }
  throw new Error(AZURE_PORTS_NOT_AVAILABLE);
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
        ports ??= buildPorts();
        handler = spec.makeHandler((await ports).deps);
      } catch (error) {
        ports = null; // not cached: fixing the settings and retrying must work without a restart
        context.error(`${spec.name}: cannot build the app's ports: ${describeError(error)}`);
        return errorResponse(503, 'the service is not configured: its operator should check the Function app logs and settings.');
      }
    }
    return handler(request, context);
  };
}

/** Closes the embedded stack, if this worker opened one (also used by tests). */
export async function closeCloudPorts(): Promise<void> {
  const current = ports;
  ports = null;
  const built = await current?.catch(() => null);
  await built?.stack?.close();
}

app.hook.appTerminate(() => closeCloudPorts());
