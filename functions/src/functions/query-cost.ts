import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/cost?from=&to=&groupBy=: spend and tokens in a range, grouped (handlers/query-cost.ts) */
const spec = httpRouteSpec('query-cost');
export const queryCost = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryCost });
