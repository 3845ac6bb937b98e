import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** POST /api/risk/findings/{id}/resolve: resolve a finding (handlers/risk.ts). */
const spec = httpRouteSpec('risk-finding-resolve');
export const resolveRiskFinding = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: resolveRiskFinding });
