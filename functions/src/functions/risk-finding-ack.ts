import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** POST /api/risk/findings/{id}/ack: acknowledge a finding (handlers/risk.ts). */
const spec = httpRouteSpec('risk-finding-ack');
export const ackRiskFinding = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: ackRiskFinding });
