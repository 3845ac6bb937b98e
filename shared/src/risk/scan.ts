import type { Finding } from '../events';
import { entropy, matchText, redactMatches, redacts, type TextRule } from './rules';

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
const MAX_DEPTH = 64;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const KEY_LIKE = /(?:passw(?:or)?d|passwd|^pwd$|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|credential|private[_-]?key)/i;
const NOT_A_SECRET_KEY = /(?:count|length|limit|max|min|type|name|id|url|uri|path|file|expires?|usage|budget|_at$)$/i;

const KEY_ASSIGNMENT_RULE: TextRule = {
  id: 'secret-assignment',
  kind: 'secret',
  severity: 'high',
  scope: 'any',
  pattern: /$^/g,
};

export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** A string value under a key such as "apiKey" or "password" that looks like a real secret, not a placeholder. */
function keyedSecret(key: string | undefined, value: string): boolean {
  if (key === undefined || !KEY_LIKE.test(key) || NOT_A_SECRET_KEY.test(key)) return false;
  if (value.startsWith('[REDACTED') || /^(?:x+|\*+|<[^>]*>|\$\{[^}]*\})$/i.test(value)) return false;
  if (/passw|pwd/i.test(key)) return value.length >= 6;
  return value.length >= 16 && !/\s/.test(value) && entropy(value) >= 3.5;
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

  const walk = (node: unknown, at: string, key: string | undefined, depth: number): unknown => {
    if (typeof node === 'string') {
      if (keyedSecret(key, node)) {
        report(KEY_ASSIGNMENT_RULE, at);
        return `[REDACTED:${KEY_ASSIGNMENT_RULE.id}]`;
      }
      const matches = matchText(node, scope);
      if (matches.length === 0) return node;
      for (const m of matches) report(m.rule, at);
      return redactMatches(node, matches.filter((m) => redacts(m.rule)));
    }
    if (node === null || typeof node !== 'object' || depth > MAX_DEPTH) return node;
    if (Array.isArray(node)) return node.map((item, i) => walk(item, childPath(at, i), key, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) out[k] = walk(v, childPath(at, k), k, depth + 1);
    return out;
  };

  const redacted = walk(value, path, undefined, 0);
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
