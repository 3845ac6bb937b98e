/** The statuses an API refusal may carry; anything else thrown is a bug, answered as a logged 500. */
export type ApiErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 501 | 503;

/**
 * A refusal thrown by a handler or a port, turned into its answer by the functions' route wrapper: the message is
 * what the caller reads, so it says what to do next. A bad parameter names it; a 429 or 503 says when to retry.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ApiErrorStatus,
    message: string,
    /** details: more fields of the answer, such as ingest's issues[] naming each bad event. */
    readonly options: { parameter?: string; retryAfterSeconds?: number; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A parameter the route cannot take as given; the message starts with its name and says why. */
export const badParameter = (parameter: string, message: string) => new ApiError(400, message, { parameter });
export const notFound = (message: string) => new ApiError(404, message);
export const unavailable = (message: string, retryAfterSeconds: number) => new ApiError(503, message, { retryAfterSeconds });
