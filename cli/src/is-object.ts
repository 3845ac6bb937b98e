/** A JSON object (not null, not an array): the one check for values read from other people's JSON. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
