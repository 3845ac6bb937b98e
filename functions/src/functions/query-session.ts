import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/sessions/{id}: one session of the caller's org (handlers/query-session.ts). */
const spec = httpRouteSpec('query-session');
export const querySession = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: querySession });
