import { sessionActiveIn, startedIn, type Activity } from './activity';
import { getJson, withQuery, type Loaded } from './api';
import { resolveWindow, type Filters } from './filters';
import type { Interaction, Session } from './types';

export const MAX_SESSIONS_IN_DETAIL = 100;
const PARALLEL = 6;

export async function loadActivity(filters: Filters): Promise<Loaded<Activity>> {
  const window = resolveWindow(filters, new Date());
  const listed = await getJson<{ sessions: Session[] }>(withQuery('/api/sessions', { limit: 500, projectId: filters.project, userId: filters.user }));
  if (listed.kind !== 'ok') return listed;
  const sessions = listed.data.sessions.filter(
    (s) => sessionActiveIn(s, window.prevFrom, window.to) && (!filters.server || s.server.name === filters.server),
  );
  const detailed = sessions.slice(0, MAX_SESSIONS_IN_DETAIL);
  const interactions: Interaction[] = [];
  let failure: Loaded<never> | null = null;
  for (let i = 0; i < detailed.length; i += PARALLEL) {
    const answers = await Promise.all(
      detailed.slice(i, i + PARALLEL).map((s) => getJson<{ interactions: Interaction[] }>(`/api/sessions/${encodeURIComponent(s.id)}/interactions`)),
    );
    for (const answer of answers) {
      if (answer.kind === 'ok') interactions.push(...answer.data.interactions);
      // A session projected a moment ago may not have its interactions yet: a 404 is not a failure.
      else if (answer.kind === 'error') failure = answer;
    }
  }
  if (failure) return failure;
  const wanted = interactions.filter((i) => startedIn(i, window.prevFrom, window.to) && (!filters.tool || i.target === filters.tool));
  const toolSessions = filters.tool ? new Set(wanted.map((i) => i.sessionId)) : null;
  return {
    kind: 'ok',
    data: {
      window,
      sessions: toolSessions ? sessions.filter((s) => toolSessions.has(s.id)) : sessions,
      interactions: wanted,
      truncatedTo: sessions.length > detailed.length ? detailed.length : null,
    },
  };
}

