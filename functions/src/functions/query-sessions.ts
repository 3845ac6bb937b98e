import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/sessions: the caller's sessions, newest first (handlers/query-sessions.ts). */
const spec = httpRouteSpec('query-sessions');
export const querySessions = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: querySessions });
