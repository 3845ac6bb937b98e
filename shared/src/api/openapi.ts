import { z } from 'zod';
import { apiRoutes, type ApiRoute } from './routes';

/** The version in the document's info: raise it with a change a generated client would notice. */
export const API_VERSION = '1.0.0';

type JsonSchema = Record<string, unknown>;

/**
 * A schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), by zod's own converter. The input side is what travels:
 * a query parameter's text, a body as sent, an answer as a client's parser takes it (its loose objects stay open to
 * fields added later, where the output side would close them).
 */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
  return rest;
}

/** A filter the route declares only to refuse it (params.ts refusedParam) is left out: a client should not offer it. */
const isRefused = (schema: z.ZodType) => schema.description?.startsWith('refused:') === true;

function parameter(name: string, schema: z.ZodType, where: 'path' | 'query'): JsonSchema {
  const described = jsonSchema(schema);
  // A default lives outside the transform that .meta describes: read it off the schema.
  if (schema instanceof z.ZodDefault) described.default = schema.def.defaultValue;
  const { description, ...rest } = described;
  return { name, in: where, required: where === 'path', ...(description ? { description } : {}), schema: rest };
}

const ErrorSchema: JsonSchema = {
  type: 'object',
  properties: { error: { type: 'string', description: 'what went wrong and what to do next' }, issues: { type: 'array', items: { type: 'object' } } },
  required: ['error'],
};
const errorAnswer = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

function operation(route: ApiRoute): JsonSchema {
  const parameters = [
    ...Object.entries(route.pathParams.shape).map(([name, schema]) => parameter(name, schema as z.ZodType, 'path')),
    ...Object.entries(route.query.shape)
      .filter(([, schema]) => !isRefused(schema as z.ZodType))
      .map(([name, schema]) => parameter(name, schema as z.ZodType, 'query')),
  ];
  const body = route.body && {
    required: true,
    content: { 'application/json': { schema: jsonSchema(route.body), ...(route.bodyExample === undefined ? {} : { example: route.bodyExample }) } },
  };
  return {
    operationId: route.name,
    summary: route.doc,
    ...(parameters.length ? { parameters } : {}),
    ...(body ? { requestBody: body } : {}),
    // An anonymous route (the landing page's beacon) takes no credentials.
    ...(route.anonymous ? { security: [] } : {}),
    responses: {
      [String(route.status)]: { description: route.status === 202 ? 'accepted' : 'the answer', content: { 'application/json': { schema: jsonSchema(route.answer) } } },
      '400': errorAnswer('a parameter or the body is wrong (unknown parameters included); the error names it'),
      ...(route.anonymous ? {} : { '401': errorAnswer('missing or unknown API key') }),
      ...(route.method === 'GET' ? {} : { '503': errorAnswer('the event log is unavailable: retry after Retry-After seconds') }),
    },
  };
}

/** The OpenAPI 3.1 document of every declared route, the same on every call (it is checked in as shared/openapi.json). */
export function openApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of apiRoutes) (paths[`/api/${route.path}`] ??= {})[route.method.toLowerCase()] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Kilometers API',
      version: API_VERSION,
      description:
        'The API of km serve and of the Azure Functions app alike. Every route takes the API key as a Bearer token (km serve on a loopback address also takes none, as the local tenant). A query parameter a route does not list is a 400 naming it.',
    },
    security: [{ apiKey: [] }],
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } }, schemas: { Error: ErrorSchema } },
    paths,
  };
}
