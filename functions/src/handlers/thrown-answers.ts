import type { HttpResponseInit } from '@azure/functions';
import { ApiError } from '@km/shared';
import { EventTooLargeError } from '../ports';
import { UNAUTHORIZED_MESSAGE } from './authenticate-request';
import { errorResponse } from './http-results';

/** Seconds to wait before a retry when a port did not say. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * The answer for what a handler or a port threw, or null for a bug (the caller logs it as a 500). ApiError carries
 * its status; the Azure SDKs' throttling (429) and unavailability (503) keep theirs, with when to retry.
 */
export function answerForThrown(error: unknown): HttpResponseInit | null {
  if (error instanceof ApiError) {
    const { retryAfterSeconds, details = {} } = error.options;
    if (error.status === 401) return errorResponse(401, error.message || UNAUTHORIZED_MESSAGE, details, { 'WWW-Authenticate': 'Bearer realm="kilometers"' });
    return errorResponse(error.status, error.message, details, retryAfterSeconds === undefined ? undefined : { 'Retry-After': String(retryAfterSeconds) });
  }
  if (error instanceof EventTooLargeError) return errorResponse(413, `${error.message}: send it smaller.`);
  const status = statusOf(error);
  if (status === 429 || status === 503) {
    const retryAfterMs = (error as { retryAfterInMs?: unknown }).retryAfterInMs;
    const seconds = typeof retryAfterMs === 'number' && retryAfterMs > 0 ? Math.ceil(retryAfterMs / 1000) : DEFAULT_RETRY_AFTER_SECONDS;
    const what = status === 429 ? 'the store is busy' : 'a backing service is unavailable';
    return errorResponse(status, `${what} right now: retry in ${seconds} s.`, {}, { 'Retry-After': String(seconds) });
  }
  return null;
}

/** The HTTP status an Azure SDK error carries (RestError: statusCode; Cosmos ErrorResponse: code). */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number') return statusCode;
  return typeof code === 'number' ? code : undefined;
}
