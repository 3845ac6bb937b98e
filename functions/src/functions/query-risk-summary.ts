import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/risk/summary: open findings by severity, rule and day, and anomalies (handlers/risk.ts). */
const spec = httpRouteSpec('query-risk-summary');
export const queryRiskSummary = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryRiskSummary });
