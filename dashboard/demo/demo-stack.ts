import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { LoggedEvent } from '@km/shared';
import { MemoryEventLog } from '../../functions/src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../../functions/src/adapters/memory-read-model-store';
import { errorResponse } from '../../functions/src/handlers/http-results';
import { compileRouteMatcher } from '../../functions/src/host/route-matcher';
import type { Authenticator } from '../../functions/src/ports';
import { runProjectorsOnce } from '../../functions/src/projector';
import { readModels } from '../../functions/src/read-models';
import { httpRoutes } from '../../functions/src/routes';

/** The org every demo event belongs to: km serve's own (functions/src/host/local-api-key.ts). */
const DEMO_ORG_ID = 'local';
const PAGE_EVENTS = 2000;

/** Answers one API request in the page: the path below `/api/`, as the embedded host's dispatch would. */
export type DemoApi = (method: string, url: URL, headers: Headers, body: Uint8Array | null) => Promise<HttpResponseInit>;

/**
 * The embedded stack without a server: the memory adapters of the ports, filled by the same projection folds the
 * projector loop runs, and the route table's own handlers. The demo's visitor is the owner of a loopback
 * km serve (no key), so every view reads as it does on a fresh local install.
 */
export async function openDemoStack(events: readonly LoggedEvent[], now: () => Date = () => new Date()): Promise<DemoApi> {
  const eventLog = new MemoryEventLog();
  const readModelStore = new MemoryReadModelStore();
  await eventLog.append([...events]);
  const catchUp = async () => {
    for (;;) {
      const step = await runProjectorsOnce(readModels, eventLog, readModelStore, PAGE_EVENTS);
      const failure = step.failures.values().next();
      if (!failure.done) throw failure.value;
      if (step.handled < PAGE_EVENTS) return;
    }
  };
  await catchUp();

  const authenticator: Authenticator = { authenticate: async () => ({ orgId: DEMO_ORG_ID, role: 'owner', actor: 'local' }) };
  let appended = false;
  let batch = 0;
  const routes = httpRoutes({
    eventLog,
    readModelStore,
    authenticator,
    now,
    newBatchId: () => `demo-batch-${++batch}`,
    onEventsAppended: () => void (appended = true),
  });
  const match = compileRouteMatcher(routes);

  return async (method, url, headers, body) => {
    const found = match(method, url.pathname.replace(/^\/api\/?/, ''));
    if (found.kind === 'not-found') return errorResponse(404, `no API route ${method} ${url.pathname} in the demo.`);
    if (found.kind === 'bad-path') return errorResponse(400, found.message);
    if (found.kind === 'wrong-method') return errorResponse(405, `${url.pathname} answers ${found.allowed.join(', ')} only.`);
    const response = await found.route.handler(requestOf(method, url, headers, body, found.params), contextOf(found.route.name));
    // A finding acknowledged in the demo shows at once: the fold runs before the answer, not on a timer.
    if (appended) {
      appended = false;
      await catchUp();
    }
    return response;
  };
}

/** The parts of @azure/functions' HttpRequest the handlers read, over web-standard types. */
function requestOf(method: string, url: URL, headers: Headers, body: Uint8Array | null, params: Record<string, string>): HttpRequest {
  const stream = body && body.byteLength > 0 ? new Blob([body as BlobPart]).stream() : null;
  return { method, url: url.href, headers, params, query: url.searchParams, body: stream } as unknown as HttpRequest;
}

function contextOf(functionName: string): InvocationContext {
  const quiet = () => undefined;
  const warn = (...args: unknown[]) => console.warn(`${functionName}:`, ...args);
  const error = (...args: unknown[]) => console.error(`${functionName}:`, ...args);
  return { functionName, invocationId: 'demo', log: quiet, trace: quiet, debug: quiet, info: quiet, warn, error } as unknown as InvocationContext;
}
