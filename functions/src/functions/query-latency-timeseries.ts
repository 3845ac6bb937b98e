import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/latency/timeseries: percentiles and counts per hour or day (handlers/query-latency-timeseries.ts). */
const spec = httpRouteSpec('query-latency-timeseries');
export const queryLatencyTimeseries = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryLatencyTimeseries });
