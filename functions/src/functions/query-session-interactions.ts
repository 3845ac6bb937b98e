import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/sessions/{id}/interactions: a session's interactions in start order (handlers/query-session-interactions.ts). */
const spec = httpRouteSpec('query-session-interactions');
export const querySessionInteractions = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: querySessionInteractions });
