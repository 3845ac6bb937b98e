import type { LatencyScope } from '@km/shared';
import { nameParam, nameParams, type ParamResult } from './query-params';

const DAY_MS = 86_400_000;
/** The longest range one request may cover: about a quarter, i.e. at most 92 day and 46 hour documents to merge. */
export const MAX_RANGE_DAYS = 92;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** from/to as ISO 8601 instants; to defaults to now and from to 24 hours before to. */
export function rangeParams(query: URLSearchParams, now: Date): ParamResult<TimeRange> {
  const instant = (name: 'from' | 'to'): ParamResult<number | undefined> => {
    const raw = query.get(name);
    if (raw === null) return { value: undefined };
    const ms = ISO_UTC.test(raw) ? Date.parse(raw) : NaN;
    if (Number.isNaN(ms)) return { error: `${name} must be an ISO 8601 date-time such as 2026-11-25T13:00:00Z, got "${raw}"` };
    return { value: ms };
  };
  const to = instant('to');
  if ('error' in to) return to;
  const from = instant('from');
  if ('error' in from) return from;
  const toMs = to.value ?? now.getTime();
  const fromMs = from.value ?? toMs - DAY_MS;
  if (fromMs >= toMs) return { error: 'from must be before to' };
  if (toMs - fromMs > MAX_RANGE_DAYS * DAY_MS) return { error: `the range from..to may span at most ${MAX_RANGE_DAYS} days; ask for a shorter one` };
  return { value: { fromMs, toMs } };
}

/** projectId or userId narrows the org to one project or user; the buckets are kept per one of them, not per both. */
export function scopeParams(query: URLSearchParams): ParamResult<LatencyScope> {
  const projectId = nameParam(query.get('projectId'), 'projectId');
  if ('error' in projectId) return projectId;
  const userId = nameParam(query.get('userId'), 'userId');
  if ('error' in userId) return userId;
  if (projectId.value !== undefined && userId.value !== undefined) {
    return { error: 'give projectId or userId, not both: latency is kept per org, per project and per user' };
  }
  if (projectId.value !== undefined) return { value: { kind: 'project', id: projectId.value } };
  if (userId.value !== undefined) return { value: { kind: 'user', id: userId.value } };
  return { value: { kind: 'org' } };
}

export function enumParam<T extends string>(query: URLSearchParams, name: string, allowed: readonly T[], fallback: T): ParamResult<T> {
  const raw = query.get(name);
  if (raw === null) return { value: fallback };
  if (!(allowed as readonly string[]).includes(raw)) return { error: `${name} must be one of ${allowed.join(', ')}, got "${raw}"` };
  return { value: raw as T };
}

/** The server and tool filters, for the endpoints that keep them. */
export const serverToolParams = (query: URLSearchParams): ParamResult<{ server?: string; tool?: string }> => nameParams(query, ['server', 'tool'] as const);

/** The window every latency aggregate query reads: time range, project or user scope, server and tool filters. */
export function latencyWindow(
  query: URLSearchParams,
  now: Date,
): ParamResult<{ range: TimeRange; scope: LatencyScope; filters: { server?: string; tool?: string } }> {
  const range = rangeParams(query, now);
  if ('error' in range) return range;
  const scope = scopeParams(query);
  if ('error' in scope) return scope;
  const filters = serverToolParams(query);
  if ('error' in filters) return filters;
  return { value: { range: range.value, scope: scope.value, filters: filters.value } };
}
