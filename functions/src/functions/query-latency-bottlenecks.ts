import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/latency/bottlenecks: each server and tool's share of the waiting time (handlers/query-latency-bottlenecks.ts). */
const spec = httpRouteSpec('query-latency-bottlenecks');
export const queryLatencyBottlenecks = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryLatencyBottlenecks });
