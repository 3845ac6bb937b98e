import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** PUT /api/budgets/project/{projectId}: appends a budget.set event (handlers/set-budget.ts) */
const spec = httpRouteSpec('set-budget-project');
export const setBudgetProject = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: setBudgetProject });
