import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** GET /api/interactions/recent: interactions in arrival order after a cursor, for km tail (handlers/query-recent-interactions.ts). */
const spec = httpRouteSpec('query-recent-interactions');
export const queryRecentInteractions = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: queryRecentInteractions });
