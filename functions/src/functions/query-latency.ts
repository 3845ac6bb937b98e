import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/latency: latency, errors and bytes per server, tool or method over a range (handlers/query-latency.ts). */
const spec = httpRouteSpec('query-latency');
export const queryLatency = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryLatency });
