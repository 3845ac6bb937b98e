import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import type { HttpHandler } from '../handlers/http-results';
import { httpRouteSpecs } from '../routes';

/**
 * Every HTTP Function, one per route of the contract (shared/src/api, via routes.ts), registered in one loop as
 * projectors.ts does for the triggers: a route declared and given a handler is live in Azure without a new file.
 * Anonymous: the handlers check the API key themselves.
 */
export const httpFunctions = new Map<string, HttpHandler>();

for (const spec of httpRouteSpecs) {
  const handler = cloudHandler(spec);
  httpFunctions.set(spec.name, handler);
  app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler });
}
