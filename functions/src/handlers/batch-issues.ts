import type { z } from 'zod';

/** One problem with a batch, as the CLI reads it: `index` names the bad event so it can quarantine exactly that one. */
export interface BatchIssue {
  /** Index in `events` when the issue is inside one event; null for problems with the batch as a whole. */
  index: number | null;
  /** Where, in the body: `events[3].server.name`. Empty for the body itself. */
  path: string;
  message: string;
}

/** Enough to fix an event, while a batch of 1000 broken events still gets a bounded answer naming every one. */
const MAX_ISSUES_PER_EVENT = 5;

export function batchIssues(error: z.ZodError): BatchIssue[] {
  const perEvent = new Map<number, number>();
  const issues: BatchIssue[] = [];
  for (const issue of error.issues) {
    const [root, index] = issue.path;
    const eventIndex = root === 'events' && typeof index === 'number' ? index : null;
    if (eventIndex !== null) {
      const seen = perEvent.get(eventIndex) ?? 0;
      perEvent.set(eventIndex, seen + 1);
      if (seen >= MAX_ISSUES_PER_EVENT) continue;
    }
    issues.push({ index: eventIndex, path: formatPath(issue.path), message: issue.message });
  }
  return issues;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) text += text ? `.${key}` : key;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text;
}
