import type { QueryOptions } from '../ports';

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Query options come from our own handlers, never from users, so a bad one is a programming error: fail loudly.
 * Field names are restricted to identifiers because they end up inside a JSON path (SQLite) or a SQL text (Cosmos).
 */
export function assertValidQuery(options: QueryOptions): void {
  for (const field of [...Object.keys(options.where ?? {}), ...(options.orderBy ? [options.orderBy] : [])]) {
    if (!FIELD_NAME.test(field)) throw new Error(`read-model query field "${field}" is not a plain top-level field name`);
  }
  if (options.between && !options.orderBy) throw new Error('read-model query bounds (between) apply to the orderBy field: name one');
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0)) {
    throw new Error(`read-model query limit must be a non-negative integer, got ${options.limit}`);
  }
}

/**
 * A document's top-level strings, numbers, booleans and nulls, as its JSON holds them (a non-finite number is null):
 * all a query can filter or sort on, which the stores keep beside the document (SQLite's fields column).
 */
export function scalarFields(doc: unknown): Record<string, unknown> {
  const fields: Record<string, unknown> = Object.create(null);
  if (doc === null || typeof doc !== 'object') return fields;
  for (const [key, value] of Object.entries(doc)) {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') fields[key] = value;
    else if (typeof value === 'number') fields[key] = Number.isFinite(value) ? value : null;
  }
  return fields;
}
