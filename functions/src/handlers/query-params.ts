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

/** Several name parameters at once: the ones given, by name (a missing one is absent), or the first one's 400. */
export function nameParams<Name extends string>(query: URLSearchParams, names: readonly Name[]): ParamResult<Partial<Record<Name, string>>> {
  const given: Partial<Record<Name, string>> = {};
  for (const name of names) {
    const value = nameParam(query.get(name), name);
    if ('error' in value) return value;
    if (value.value !== undefined) given[name] = value.value;
  }
  return { value: given };
}

/** Refuses filters an endpoint cannot honour, rather than silently ignoring them. */
export function refuseParams(query: URLSearchParams, names: string[], why: string): ParamResult<true> {
  const given = names.filter((name) => query.has(name));
  return given.length ? { error: `${given.join(' and ')} cannot be used here: ${why}` } : { value: true };
}
