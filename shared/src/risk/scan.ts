import type { Finding } from '../events';
import { entropy, isWorkingDirectory, matchText, redactMatches, redacts, TEXT_RULES, type TextRule } from './rules';

/**
 * Scans a JSON value (a request's params, a response's result) string by string, and returns the findings
 * with their JSON paths together with a copy of the value in which every secret and piece of PII is replaced
 * by [REDACTED:rule-id]. One walk does both, so what is reported and what is redacted cannot disagree.
 */
export interface ScanResult {
  findings: Finding[];
  redacted: unknown;
}

export const MAX_FINDINGS = 100;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const KEY_LIKE = /(?:passw(?:or)?d|passwd|^pwd$|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|credential|private[_-]?key)/i;
const NOT_A_SECRET_KEY = /(?:count|length|limit|max|min|type|name|id|url|uri|path|file|expires?|usage|budget|_at$|tokeni[sz]er|tokens)$/i;

const KEY_ASSIGNMENT_RULE: TextRule = {
  id: 'secret-assignment',
  kind: 'secret',
  severity: 'high',
  scope: 'any',
  pattern: /$^/g,
};

const CARD_RULE = TEXT_RULES.find((rule) => rule.id === 'card-number')!;
export const CARD_NUMBER_MARKER = '[REDACTED:credit-card]';

/** A JSON number whose digits pass the card rule (issuer prefix, length, Luhn). */
function cardLikeNumber(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 1e12) return false;
  const digits = String(n);
  return CARD_RULE.validate!(digits, digits);
}

export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** A string value under a key such as "apiKey" or "password" that looks like a real secret, not a placeholder. */
function keyedSecret(key: string | undefined, value: string): boolean {
  if (key === undefined || !KEY_LIKE.test(key) || NOT_A_SECRET_KEY.test(key)) return false;
  if (value.startsWith('[REDACTED') || /^(?:x+|\*+|<[^>]*>|\$\{[^}]*\})$/i.test(value) || isWorkingDirectory(key, value)) return false;
  if (/passw|pwd/i.test(key)) return value.length >= 6;
  if (/\s/.test(value)) return false;
  // Under a key named for a secret, a short value counts when it looks random: digits and letters, few repeats.
  if (value.length >= 8 && value.length < 16) return /\d/.test(value) && /[A-Za-z]/.test(value) && entropy(value) >= 3.2;
  return value.length >= 16 && entropy(value) >= 3.5;
}

export function scanValue(value: unknown, path: string, scope: 'request' | 'response'): ScanResult {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const report = (rule: { id: string; severity: Finding['severity'] }, at: string) => {
    const key = `${rule.id}\u0000${at}`;
    if (seen.has(key) || findings.length >= MAX_FINDINGS) return;
    seen.add(key);
    findings.push({ ruleId: rule.id, severity: rule.severity, path: at.slice(0, 500) });
  };

  const scanString = (text: string, at: string, key: string | undefined): string => {
    if (keyedSecret(key, text)) {
      report(KEY_ASSIGNMENT_RULE, at);
      return `[REDACTED:${KEY_ASSIGNMENT_RULE.id}]`;
    }
    const matches = matchText(text, scope);
    if (matches.length === 0) return text;
    for (const m of matches) report(m.rule, at);
    return redactMatches(text, matches.filter((m) => redacts(m.rule)));
  };

  // Leaves are scanned where they stand; containers are copied and their children queued. The walk is iterative,
  // so there is no depth at which a value passes through unscanned (and no stack to overflow).
  const leaf = (node: unknown, at: string, key: string | undefined): unknown => {
    if (typeof node === 'string') return scanString(node, at, key);
    if (typeof node === 'number' && cardLikeNumber(node)) {
      report(CARD_RULE, at);
      return CARD_NUMBER_MARKER;
    }
    return node;
  };
  type Task = { node: unknown; at: string; key: string | undefined; into: Record<string | number, unknown>; slot: string | number };
  const root: Record<string, unknown> = {};
  const stack: Task[] = [{ node: value, at: path, key: undefined, into: root, slot: 'value' }];
  while (stack.length > 0) {
    const { node, at, key, into, slot } = stack.pop()!;
    if (node === null || typeof node !== 'object') {
      into[slot] = leaf(node, at, key);
      continue;
    }
    const children: Array<[unknown, string, string | undefined, string | number]> = [];
    let copy: Record<string, unknown> | unknown[];
    if (Array.isArray(node)) {
      copy = new Array(node.length);
      node.forEach((item, i) => children.push([item, childPath(at, i), key, i]));
    } else {
      copy = {};
      const names = new Set<string>();
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
        // A key is text like any other: a secret in it is reported, and the copy (and every path) carries its redacted form.
        let name = k;
        const matches = k.length >= 6 ? matchText(k, scope) : [];
        if (matches.length > 0) {
          const redactedKey = redactMatches(k, matches.filter((m) => redacts(m.rule)));
          name = redactedKey;
          for (let n = 2; names.has(name); n++) name = `${redactedKey}#${n}`;
          for (const m of matches) report(m.rule, childPath(at, name));
        }
        names.add(name);
        children.push([v, childPath(at, name), k, name]);
      }
    }
    into[slot] = copy;
    // Pushed in reverse so that children are scanned in document order (findings keep their order).
    for (let i = children.length - 1; i >= 0; i--) {
      const [child, childAt, childKey, childSlot] = children[i]!;
      stack.push({ node: child, at: childAt, key: childKey, into: copy as Record<string | number, unknown>, slot: childSlot });
    }
  }

  const redacted = root.value;
  return { findings, redacted };
}

const DESTRUCTIVE_WORDS = new Set(['delete', 'remove', 'rm', 'drop', 'destroy', 'purge', 'truncate', 'wipe', 'erase', 'kill', 'terminate', 'uninstall', 'overwrite', 'reset', 'rmdir', 'unlink', 'forcepush']);

/** Splits tool names the ways people write them: delete_file, deleteFile, git-push-force, db.drop. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** A tools/call whose tool name or arguments say it deletes, drops or force-pushes. */
export function destructiveTool(name: string, args: unknown): boolean {
  const words = nameWords(name);
  if (words.some((w) => DESTRUCTIVE_WORDS.has(w))) return true;
  if (words.includes('force') && words.includes('push')) return true;
  if (args && typeof args === 'object' && !Array.isArray(args)) {
    const a = args as Record<string, unknown>;
    if ((a.force === true || a.force_push === true || a.forcePush === true) && words.includes('push')) return true;
    if (a.recursive === true && words.some((w) => w === 'delete' || w === 'remove')) return true;
  }
  return false;
}

export const DESTRUCTIVE_TOOL_RULE = { id: 'destructive-tool', kind: 'destructive', severity: 'medium' } as const;

/** The findings of one request: its params, plus the destructive-tool rule for tools/call. */
export function scanRequest(method: string, params: unknown): ScanResult {
  const result = scanValue(params ?? null, '$.params', 'request');
  if (method === 'tools/call' && params && typeof params === 'object') {
    const p = params as Record<string, unknown>;
    if (typeof p.name === 'string' && destructiveTool(p.name, p.arguments) && result.findings.length < MAX_FINDINGS) {
      result.findings.unshift({ ruleId: DESTRUCTIVE_TOOL_RULE.id, severity: DESTRUCTIVE_TOOL_RULE.severity, path: '$.params.name' });
    }
  }
  return result;
}

export function scanResponse(result: unknown): ScanResult {
  return scanValue(result ?? null, '$.result', 'response');
}
