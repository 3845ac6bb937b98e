import { app } from '@azure/functions';
import { cloudHandler } from '../cloud-ports';
import { httpRouteSpec } from '../routes';

/** POST /api/ingest: batches of events from km wrappers (handlers/ingest.ts). */
const spec = httpRouteSpec('ingest');
export const ingest = cloudHandler(spec);

app.http(spec.name, { methods: spec.methods, route: spec.route, authLevel: 'anonymous', handler: ingest });
