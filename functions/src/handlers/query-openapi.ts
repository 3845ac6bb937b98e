import { openApiDocument, openApiRoute } from '@km/shared';
import type { Authenticator } from '../ports';
import { routeHandler } from './route-handler';

/** Made once: the document is a function of the contract only. */
let document: ReturnType<typeof openApiDocument> | undefined;

/** GET /api/openapi.json: the API's OpenAPI 3.1 document, behind the same key as every route (one door for all). */
export const makeQueryOpenApiHandler = routeHandler(openApiRoute, async (_caller, _params, _deps: { authenticator: Authenticator }) => {
  document ??= openApiDocument();
  return document as { openapi: '3.1.0'; paths: Record<string, unknown> };
});
