import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/budgets: budgets with spend, forecast and thresholds crossed (handlers/query-cost.ts) */
const spec = httpRouteSpec('query-budgets');
export const queryBudgets = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryBudgets });
