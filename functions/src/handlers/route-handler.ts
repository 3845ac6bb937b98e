import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { ApiError, badParameter, routePermission, type ApiRoute, type RouteAnswer, type RouteBody, type RouteParams } from '@km/shared';
import type { Authenticator, Caller } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { formatPath } from './batch-issues';
import { answerForThrown } from './thrown-answers';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import type { RateLimiter } from './rate-limit';
import { readJsonBody } from './request-body';

/** What a route's handler is given: its path and query parameters and, for a route with a body, that body. */
export type RouteInput<R extends ApiRoute> = RouteParams<R> & (R extends { body: unknown } ? { body: RouteBody<R> } : unknown);

/** A route's handler once the wrapper is done: who calls, what they asked (parsed and checked), and the ports. */
export type RouteHandle<R extends ApiRoute, Ports> = (
  caller: Caller,
  input: RouteInput<R>,
  ports: Ports,
  context: InvocationContext,
) => Promise<R extends { streams: true } ? StreamedAnswer : RouteAnswer<R>>;

/** The answer of a route that streams (`streams: true`): its lines as they are made, never all in memory. */
export class StreamedAnswer {
  constructor(
    readonly contentType: string,
    readonly lines: AsyncIterable<string>,
  ) {}

  /** As a web ReadableStream, which Azure's HttpResponse and the embedded host both stream. */
  body(): ReadableStream<Uint8Array> {
    const iterator = this.lines[Symbol.asyncIterator]();
    const encoder = new TextEncoder();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await iterator.return?.();
      },
    });
  }
}

/** How a route with a body reads it, when the defaults (16 KiB, the route's body schema) do not fit. */
export interface BodyRule<R extends ApiRoute, Ports> {
  /** The most bytes the body may take, on the wire and decompressed. */
  maxBytes?: (ports: Ports) => number;
  /** Said with a 413 (default: send a smaller body). */
  tooLargeAdvice?: string;
  /** The body from its JSON, or a thrown ApiError. */
  parse?: (json: unknown) => RouteBody<R>;
}

/** Whether the request says it has a body: a length above 0, or one sent in chunks. */
function carriesBody(request: Parameters<HttpHandler>[0]): boolean {
  const length = Number(request.headers.get('content-length') ?? 0);
  return (Number.isFinite(length) && length > 0) || request.headers.get('transfer-encoding') !== null;
}

/** Enough for any body but ingest's batches. */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * The one door of every route: authenticates, parses the path and query parameters (and a JSON body) against the route's
 * declaration (shared/src/api), runs the handler, and answers what it or a port throws (ApiError and the cloud
 * SDKs' throttling and unavailability) with its status. A bug is still a logged 500.
 */
export function routeHandler<R extends ApiRoute, Ports extends { authenticator: Authenticator; rateLimiter?: RateLimiter; funnelOrgId?: string }>(route: R, handle: RouteHandle<R, Ports>, bodyRule: BodyRule<R, Ports> = {}): (ports: Ports) => HttpHandler {
  return (ports) =>
    withUnexpectedErrorsAs500(async (request, context) => {
      // An anonymous route acts for the operator's org whatever the request carries: a key sent along changes nothing.
      const auth = route.anonymous
        ? { caller: { orgId: ports.funnelOrgId ?? '', role: 'viewer', actor: 'anonymous' } satisfies Caller }
        : await authenticateRequest(ports.authenticator, request, routePermission(route), `${route.method} /api/${route.path}`);
      if ('response' in auth) return auth.response;
      const rate = ports.rateLimiter?.take(auth.caller.actor) ?? { allowed: true };
      if (!rate.allowed) {
        return errorResponse(429, `too many requests with this key: at most ${ports.rateLimiter!.describe()}; retry in ${rate.retryAfterSeconds} s.`, {}, { 'Retry-After': String(rate.retryAfterSeconds) });
      }
      try {
        const params = parseScopedParams(route, auth.caller, request.params, request.query);
        let input = params as RouteInput<R>;
        if (route.body) {
          const read = await readJsonBody(request, bodyRule.maxBytes?.(ports) ?? MAX_BODY_BYTES, bodyRule.tooLargeAdvice);
          if ('response' in read) return read.response;
          input = { ...params, body: (bodyRule.parse ?? ((json) => parseBody(route, json)))(read.body) } as RouteInput<R>;
        } else if (carriesBody(request)) {
          // A body the route does not read would be ignored (a note sent with an ack, say): refused, as parameters
          // are, from its headers alone (never read: an anonymous route must not buffer what anyone sends it).
          throw new ApiError(400, `${route.method} /api/${route.path} takes no body: send the request without one`);
        }
        const answer = await handle(auth.caller, input, ports, context);
        if (answer instanceof StreamedAnswer) return { status: route.status, headers: { 'content-type': answer.contentType, 'cache-control': 'no-store' }, body: answer.body() as HttpResponseInit['body'] };
        return jsonResponse(route.status, answer);
      } catch (error) {
        const answer = answerForThrown(error);
        if (answer) return answer;
        throw error;
      }
    });
}

/**
 * A project key reads its project only: the route's projectId is set to the key's (a different one asked for is a
 * 403), and a route that cannot be narrowed to one project is refused rather than answered for the whole org.
 */
export function scopedQuery(route: ApiRoute, caller: Caller, path: Record<string, string>, query: URLSearchParams): URLSearchParams {
  const projectId = caller.projectId;
  if (projectId === undefined || route.scopesItself) return query;
  if (route.scopesItselfWith !== undefined && query.has(route.scopesItselfWith)) return query;
  const scope = (asked: string | null | undefined) => {
    if (asked != null && asked !== projectId) throw new ApiError(403, `this key is scoped to project "${projectId}" and cannot reach project "${asked}"`, { parameter: 'projectId' });
  };
  if ('projectId' in route.pathParams.shape) {
    scope(path.projectId);
    return query;
  }
  const param = route.query.shape.projectId as z.ZodType | undefined;
  if (route.name !== 'ingest' && (!param || !param.safeParse(projectId).success || param.safeParse(projectId).data === undefined)) {
    throw new ApiError(403, `this key is scoped to project "${projectId}", and ${route.method} /api/${route.path} answers for the whole org: use a key of the org, not of one project`);
  }
  if (route.name === 'ingest') return query;
  // Refused as parseParams refuses any parameter given twice, before set() below keeps one of the values.
  if (query.getAll('projectId').length > 1) throw badParameter('projectId', givenTwice(route, 'projectId'));
  scope(query.get('projectId'));
  const scoped = new URLSearchParams(query);
  scoped.set('projectId', projectId);
  return scoped;
}

/**
 * For a route that scopes itself (it reads one document by id): whether a document of that project is the caller's.
 * A project key's is one of its project; another project's answers as one that does not exist (keyScopeName says where it looked).
 */
export const inKeyScope = (caller: Pick<Caller, 'projectId'>, projectId: string | null | undefined): boolean => caller.projectId === undefined || projectId === caller.projectId;

/** Where such a lookup looked, for its 404: "your org", or the project key's project. */
export const keyScopeName = (caller: Pick<Caller, 'projectId'>): string => (caller.projectId === undefined ? 'your org' : `this key's project "${caller.projectId}"`);

/**
 * parseParams over the query as a project key's scope narrows it. A refusal of the projectId the scope added says so:
 * the caller never sent one, and "projectId cannot be used here" alone would blame them for it.
 */
function parseScopedParams<R extends ApiRoute>(route: R, caller: Caller, path: Record<string, string>, query: URLSearchParams): RouteParams<R> {
  const scoped = scopedQuery(route, caller, path, query);
  try {
    return parseParams(route, path, scoped);
  } catch (error) {
    const added = !query.has('projectId') && scoped.has('projectId');
    // The refusal is of the projectId added, or of another parameter beside it (teamId: "without projectId").
    if (!(error instanceof ApiError) || error.status !== 400 || !added || !(error.options.parameter === 'projectId' || error.message.includes('projectId'))) throw error;
    throw new ApiError(400, `this key is scoped to project "${caller.projectId}", so its requests are read as projectId=${caller.projectId}, and ${error.message}`, error.options);
  }
}

/**
 * The route's parameters, or a thrown 400 naming the first one that is wrong. A query parameter given twice is
 * refused: whichever value a reader took, the other would be ignored. Keys come from outside: a prototype-free object.
 */
export function parseParams<R extends ApiRoute>(route: R, path: Record<string, string>, query: URLSearchParams): RouteParams<R> {
  const given: Record<string, string> = Object.create(null);
  for (const [name, value] of query) {
    if (!Object.prototype.hasOwnProperty.call(route.query.shape, name)) {
      const known = Object.keys(route.query.shape);
      throw badParameter(name, `unknown parameter "${name}": ${route.method} /api/${route.path} takes ${known.length ? known.join(', ') : 'no query parameters'}`);
    }
    if (name in given) throw badParameter(name, givenTwice(route, name));
    given[name] = value;
  }
  const pathParams = parsed(route.pathParams, { ...path });
  return { ...parsed(route.query, given), ...pathParams } as RouteParams<R>;
}

const givenTwice = (route: ApiRoute, name: string) => `parameter "${name}" is given twice: ${route.method} /api/${route.path} takes each parameter once`;

function parsed(schema: ApiRoute['query'], input: Record<string, string>): Record<string, unknown> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? (issue.code === 'unrecognized_keys' ? issue.keys[0] : '(parameters)'));
  // Our own messages name their parameter; zod's own ("Invalid input") get the name in front.
  throw badParameter(name, issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`);
}


/** The body by the route's schema, or a 400 naming where it is wrong (every issue in issues[]) with a body that works. */
function parseBody<R extends ApiRoute>(route: R, json: unknown): RouteBody<R> {
  const result = route.body!.safeParse(json);
  if (result.success) return result.data as RouteBody<R>;
  const issues = result.error.issues.map((issue) => ({ path: formatPath(issue.path) || '(body)', message: issue.message }));
  const example = route.bodyExample === undefined ? '' : ` Send a body like ${JSON.stringify(route.bodyExample)}.`;
  throw new ApiError(400, `${issues[0]!.path}: ${issues[0]!.message}.${example}`, { details: { issues } });
}
