import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/latency/slowest: the slowest interactions of a range, with their sessions (handlers/query-latency-slowest.ts). */
const spec = httpRouteSpec('query-latency-slowest');
export const queryLatencySlowest = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryLatencySlowest });
