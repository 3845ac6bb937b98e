import { redactText } from './rules';

/**
 * Redaction of the single strings an event takes from the wire (names, versions, ids, methods, details) and the
 * last pass over a whole event before it leaves the wrapper. Both use the same rules as every other text.
 */

/** Longer than any secret shape that does not match to the end of the text (github_pat_ is 93 characters). */
const CUT_MARGIN = 4096;

/**
 * A wire string fit for an event field of at most `max` characters: redacted BEFORE it is cut, so that a secret
 * straddling the cut still matches its rule (half a key matches nothing). The text is first windowed, so a huge
 * string costs no more than `max` + a margin.
 */
export function safeField(text: string, max: number): string {
  return redactText(text.length > max + CUT_MARGIN ? text.slice(0, max + CUT_MARGIN) : text).slice(0, max);
}

/**
 * Fields km made itself (ids, times, enums, hashes, findings) hold nothing from the wire; previews are the capture
 * mode's to shape (redacted or, when the user asked for it, full), so the last pass leaves them as they are.
 */
const KM_MADE = new Set([
  'id',
  'v',
  'ts',
  'type',
  'direction',
  'kind',
  'outcome',
  'via',
  'transport',
  'kmVersion',
  'startedAt',
  'endedAt',
  'descriptionHash',
  'schemaHash',
  'findings',
  'requestPreview',
  'responsePreview',
]);

/**
 * The last pass over an event before it is spooled: every string of it outside the fields km made is redacted,
 * keys and values at any depth, so that a field added to an event later is scanned without anyone remembering
 * to. A redacted string is cut back to its own length, so it still fits the bound the field met.
 * Returns the event itself when nothing was found (the usual case: fields were redacted where they were read).
 */
export function redactEventStrings<T extends object>(event: T): T {
  let changed = false;
  const text = (s: string): string => {
    const redacted = redactText(s);
    if (redacted === s) return s;
    changed = true;
    return redacted.slice(0, s.length);
  };
  const walk = (node: unknown, top: boolean): unknown => {
    if (typeof node === 'string') return text(node);
    if (node === null || typeof node !== 'object') return node;
    if (Array.isArray(node)) return node.map((item) => walk(item, false));
    const copy: Record<string, unknown> = Object.create(null);
    for (const [key, value] of Object.entries(node)) copy[top ? key : text(key)] = top && KM_MADE.has(key) ? value : walk(value, false);
    return copy;
  };
  const copy = walk(event, true) as T;
  // A copy is only worth its allocation when it differs; a plain object keeps JSON.stringify and spreads unsurprising.
  return changed ? ({ ...copy } as T) : event;
}
