import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { describeError } from '../logger';

/** The shape of every HTTP Function here, in the cloud and in the embedded host. */
export type HttpHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

export function jsonResponse(status: number, body: unknown, headers?: Record<string, string>): HttpResponseInit {
  return { status, jsonBody: body, ...(headers ? { headers } : {}) };
}

/** An error as a value: a status and a message that tells the reader what to do next. */
export function errorResponse(
  status: number,
  error: string,
  details: Record<string, unknown> = {},
  headers?: Record<string, string>,
): HttpResponseInit {
  return jsonResponse(status, { error, ...details }, headers);
}

/**
 * The last line of defence: a bug must become a logged 500 with a JSON body, never an unhandled rejection that the
 * host turns into an empty response. The details stay in the log; the caller learns nothing about internals.
 */
export function withUnexpectedErrorsAs500(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      context.error(`${context.functionName} failed: ${describeError(error)}`);
      return errorResponse(500, 'internal error; it was logged on the server. Retry later, or report it if it persists.');
    }
  };
}

/** "a", "a or b", "a, b or c": a list as an answer's words name it. */
export function orList(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? '');
}
