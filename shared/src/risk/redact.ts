/**
 * The minimum redaction the spine needs for the few free-text fields it ships (error messages, the server
 * command line): well-known credential shapes and secrets assigned to key-like names. The full rule set with
 * findings and JSON paths belongs to the risk monitor; it will replace the rules here, not sit beside them.
 */
const RULES: ReadonlyArray<{ id: string; pattern: RegExp }> = [
  { id: 'aws-access-key', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { id: 'github-token', pattern: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/g },
  { id: 'slack-token', pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}\b/g },
  { id: 'openai-key', pattern: /\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}\b/g },
  { id: 'private-key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g },
  { id: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g },
  { id: 'bearer-token', pattern: /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{12,}/gi },
  { id: 'url-password', pattern: /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+(@)/gi },
  {
    id: 'key-assignment',
    pattern: /((?:password|passwd|secret|token|api[_-]?key|access[_-]?key|auth)["']?\s*[:=]\s*["']?)[^\s"',;&]{6,}/gi,
  },
];

export function redactText(text: string): string {
  let out = text;
  for (const { id, pattern } of RULES) {
    out = out.replace(pattern, (match, ...groups) => {
      // Keep a captured prefix (e.g. "Bearer ", "password=") so the text still reads, and drop the secret.
      const captured = groups.filter((g) => typeof g === 'string') as string[];
      if (captured.length >= 1 && match.startsWith(captured[0]!)) {
        const suffix = captured.length >= 2 && match.endsWith(captured[1]!) ? captured[1]! : '';
        return `${captured[0]}[REDACTED:${id}]${suffix}`;
      }
      return `[REDACTED:${id}]`;
    });
  }
  return out;
}
