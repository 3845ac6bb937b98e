/**
 * The environment variables that change what a session records: whom and what it is attributed to, the model it
 * is priced for, and how much of each message it keeps. An MCP client's config entry often sets them, and only km
 * the client started has them: a journal replayed by km serve or by another km (kill -9) records the session with
 * the ones it was started with, not the replayer's. No secrets among them (the journal is local, but still): the
 * key and the endpoint are the replayer's, which ships what it replays.
 */
export const OBSERVATION_ENV_KEYS = ['KM_ORG', 'KM_PROJECT', 'KM_USER', 'KM_MODEL', 'KM_CAPTURE'] as const;

export type ObservationEnv = Partial<Record<(typeof OBSERVATION_ENV_KEYS)[number], string>>;

/** The observation variables set in env (the others absent, not empty). */
export function observationEnv(env: NodeJS.ProcessEnv): ObservationEnv {
  const picked: ObservationEnv = {};
  for (const key of OBSERVATION_ENV_KEYS) {
    const value = env[key];
    if (typeof value === 'string') picked[key] = value;
  }
  return picked;
}

/** A journal's variables, as read back: only strings of the known names count (a hand-edited or older journal). */
export function journaledObservationEnv(value: unknown): ObservationEnv | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return observationEnv(value as NodeJS.ProcessEnv);
}
