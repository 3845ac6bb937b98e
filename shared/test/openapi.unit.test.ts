import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiRoutes, openApiDocument } from '@km/shared';

const doc = openApiDocument() as any;

describe('the OpenAPI document', () => {
  it('is checked in as generated (run `npm run openapi` after changing the contract)', () => {
    const checkedIn = readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8');
    expect(checkedIn).toBe(JSON.stringify(doc, null, 2) + '\n');
  });

  it('has one operation per declared route, with its path parameters and the query parameters it honours', () => {
    const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, id: op.operationId, parameters: (op.parameters ?? []).map((p: any) => `${p.in}:${p.name}`) })),
    );
    expect(operations).toEqual(
      apiRoutes.map((route) => ({
        route: `${route.method} /api/${route.path}`,
        id: route.name,
        parameters: [
          ...Object.keys(route.pathParams.shape).map((name) => `path:${name}`),
          ...Object.entries(route.query.shape)
            .filter(([, schema]) => !(schema as { description?: string }).description?.startsWith('refused:'))
            .map(([name]) => `query:${name}`),
        ],
      })),
    );
  });

  it('shows what each parameter takes: enums, limits with their defaults, name lengths', () => {
    const param = (path: string, name: string) => doc.paths[path].get.parameters.find((p: any) => p.name === name);
    expect(param('/api/cost', 'groupBy').schema).toEqual({ type: 'string', enum: ['project', 'user', 'server', 'tool', 'model', 'day'], default: 'day' });
    expect(param('/api/sessions', 'limit').schema).toEqual({ type: 'integer', minimum: 1, maximum: 500, default: 50 });
    expect(param('/api/latency/timeseries', 'bucket').schema).toEqual({ type: 'string', enum: ['hour', 'day'], default: 'hour' });
    expect(param('/api/sessions/{id}', 'id')).toMatchObject({ in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } });
  });

  it("keeps answers open to fields added later and bodies closed, as the schemas parse them", () => {
    const answer = doc.paths['/api/budgets'].get.responses['200'].content['application/json'].schema;
    expect(answer.additionalProperties).toBeUndefined();
    expect(answer.required).toEqual(['budgets']);
    expect(doc.paths['/api/budgets/org'].put.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
  });
});
