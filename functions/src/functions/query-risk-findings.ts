import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/risk/findings: the caller's risk findings, newest first (handlers/risk.ts). */
const spec = httpRouteSpec('query-risk-findings');
export const queryRiskFindings = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryRiskFindings });
