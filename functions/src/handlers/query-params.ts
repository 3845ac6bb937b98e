/** A parsed query-string or route parameter, or the message of the 400 to answer. */
export type ParamResult<T> = { value: T } | { error: string };

export function limitParam(query: URLSearchParams, fallback: number, max: number): ParamResult<number> {
  const raw = query.get('limit');
  if (raw === null) return { value: fallback };
  const limit = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= max)) return { error: `limit must be a whole number from 1 to ${max}, got "${raw}"` };
  return { value: limit };
}

/** Names (project, user, session ids) are 1 to 200 characters, as in the event schema. */
export function nameParam(value: string | null, what: string): ParamResult<string | undefined> {
  if (value === null) return { value: undefined };
  if (value.length < 1 || value.length > 200) return { error: `${what} must be 1 to 200 characters long` };
  return { value };
}
