import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/cost/context-tax: the tool-definition tax per server (handlers/query-cost.ts) */
const spec = httpRouteSpec('query-cost-context-tax');
export const queryCostContextTax = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryCostContextTax });
