import type { Session } from './types';

/** A session without an end for this long is not called live: its km was probably killed before it could say so. */
export const LIVE_WINDOW_MS = 30 * 60 * 1000;

export type SessionState = 'ended' | 'live' | 'no-end';

/** km records session.ended when the server exits; kill -9 of km (or of the machine) leaves no end behind. */
export function sessionState(session: Pick<Session, 'endedAt' | 'lastActivityAt'>, now: number = Date.now()): SessionState {
  if (session.endedAt) return 'ended';
  return now - Date.parse(session.lastActivityAt) <= LIVE_WINDOW_MS ? 'live' : 'no-end';
}
