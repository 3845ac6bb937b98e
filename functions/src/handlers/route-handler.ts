import type { InvocationContext } from '@azure/functions';
import { badParameter, type ApiRoute, type RouteAnswer, type RouteParams } from '@km/shared';
import type { Authenticator, Caller } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { answerForThrown } from './thrown-answers';
import { jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';

/** A route's handler once the wrapper is done: who calls, what they asked (parsed and checked), and the ports. */
export type RouteHandle<R extends ApiRoute, Ports> = (caller: Caller, params: RouteParams<R>, ports: Ports, context: InvocationContext) => Promise<RouteAnswer<R>>;

/**
 * The one door of every migrated route: authenticates, parses the path and query parameters against the route's
 * declaration (shared/src/api), runs the handler, and answers what it or a port throws (ApiError and the cloud
 * SDKs' throttling and unavailability) with its status. A bug is still a logged 500.
 */
export function routeHandler<R extends ApiRoute, Ports extends { authenticator: Authenticator }>(route: R, handle: RouteHandle<R, Ports>): (ports: Ports) => HttpHandler {
  return (ports) =>
    withUnexpectedErrorsAs500(async (request, context) => {
      const auth = await authenticateRequest(ports.authenticator, request);
      if ('response' in auth) return auth.response;
      try {
        const params = parseParams(route, request.params, request.query);
        return jsonResponse(route.status, await handle(auth.caller, params, ports, context));
      } catch (error) {
        const answer = answerForThrown(error);
        if (answer) return answer;
        throw error;
      }
    });
}

/**
 * The route's parameters, or a thrown 400 naming the first one that is wrong. A query parameter given twice counts
 * once (its first value, as URLSearchParams.get reads it). Keys come from outside: a prototype-free object.
 */
export function parseParams<R extends ApiRoute>(route: R, path: Record<string, string>, query: URLSearchParams): RouteParams<R> {
  const given: Record<string, string> = Object.create(null);
  for (const [name, value] of query) {
    if (!Object.prototype.hasOwnProperty.call(route.query.shape, name)) {
      const known = Object.keys(route.query.shape);
      throw badParameter(name, `unknown parameter "${name}": ${route.method} /api/${route.path} takes ${known.length ? known.join(', ') : 'no query parameters'}`);
    }
    if (!(name in given)) given[name] = value;
  }
  const pathParams = parsed(route.pathParams, { ...path });
  return { ...parsed(route.query, given), ...pathParams } as RouteParams<R>;
}

function parsed(schema: ApiRoute['query'], input: Record<string, string>): Record<string, unknown> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? (issue.code === 'unrecognized_keys' ? issue.keys[0] : '(parameters)'));
  // Our own messages name their parameter; zod's own ("Invalid input") get the name in front.
  throw badParameter(name, issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`);
}

