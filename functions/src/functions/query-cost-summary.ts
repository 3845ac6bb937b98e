import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/cost/summary: today, yesterday, month to date, forecast (handlers/query-cost.ts) */
const spec = httpRouteSpec('query-cost-summary');
export const queryCostSummary = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryCostSummary });
