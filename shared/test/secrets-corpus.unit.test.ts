import { redactText, scanValue, TEXT_RULES } from '@km/shared';
import { FALSE_POSITIVES, TRUE_POSITIVES } from './fixtures/secrets-corpus';

const nest = (value: unknown, depth: number): unknown => {
  let node = value;
  for (let i = 0; i < depth; i++) node = i % 2 === 0 ? { level: node } : [node];
  return node;
};
const REDACTING = (id: string) => {
  const rule = TEXT_RULES.find((r) => r.id === id);
  return rule !== undefined && (rule.kind === 'secret' || rule.kind === 'pii');
};

describe('secrets corpus', () => {
  it('has at least 60 true and 15 false positives, and every redacting rule has an item', () => {
    expect(TRUE_POSITIVES.length).toBeGreaterThanOrEqual(60);
    expect(FALSE_POSITIVES.length).toBeGreaterThanOrEqual(15);
    const covered = new Set(TRUE_POSITIVES.map((item) => item.rule));
    for (const rule of TEXT_RULES) if (REDACTING(rule.id)) expect([rule.id, covered.has(rule.id)]).toEqual([rule.id, true]);
  });

  describe.each(TRUE_POSITIVES.map((item) => [item.rule, item.text, item] as const))('%s in %j', (ruleId, _text, item) => {
    const check = (value: unknown) => {
      const scan = scanValue(value, '$', 'response');
      const redacted = JSON.stringify(scan.redacted);
      const findings = JSON.stringify(scan.findings);
      expect(redacted).not.toContain(item.secret);
      expect(redacted).toContain('[REDACTED:');
      expect(scan.findings.map((f) => f.ruleId)).toContain(ruleId);
      // Findings say rule, severity and path, never the text.
      expect(findings).not.toContain(item.secret);
      for (const f of scan.findings) expect(Object.keys(f).sort()).toEqual(['path', 'ruleId', 'severity']);
      return scan;
    };
    it('as a value', () => void check({ text: item.text }));
    it('as a key', () => {
      const scan = check({ [item.text]: 'ok' });
      expect(scan.findings.every((f) => !f.path.includes(item.secret))).toBe(true);
    });
    it('nested at depth 100', () => void check(nest({ text: item.text }, 100)));
    it('inside a multi-line text', () => void check({ text: `first line of output\n  ${item.text}\nlast line, done` }));
    it('through redactText', () => expect(redactText(`log: ${item.text} end`)).not.toContain(item.secret));
  });

  it.each(FALSE_POSITIVES)('leaves %j alone', (text) => {
    for (const value of [{ text }, { [text]: 1 }, nest({ text }, 100)]) {
      const scan = scanValue(value, '$', 'response');
      expect(scan.findings.filter((f) => REDACTING(f.ruleId))).toEqual([]);
      expect(scan.redacted).toEqual(value);
    }
    expect(redactText(text)).toBe(text);
  });
});

describe('structural walk', () => {
  it('replaces JSON numbers that pass the card rule, and leaves other numbers', () => {
    const scan = scanValue({ card: 4111111111111111, amex: 378282246310005, count: 1700000000000, n: 42, f: 1.5 }, '$', 'request');
    expect(scan.redacted).toEqual({ card: '[REDACTED:credit-card]', amex: '[REDACTED:credit-card]', count: 1700000000000, n: 42, f: 1.5 });
    expect(scan.findings).toEqual([
      { ruleId: 'card-number', severity: 'high', path: '$.card' },
      { ruleId: 'card-number', severity: 'high', path: '$.amex' },
    ]);
  });

  it('scans at any depth without overflowing the stack', () => {
    const secret = ['ghp_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A'].join('');
    const scan = scanValue(nest({ text: secret }, 50_000), '$', 'response');
    expect(JSON.stringify(scan.findings)).toContain('github-token');
    let node: unknown = scan.redacted;
    while (node && typeof node === 'object' && !('text' in (node as object))) node = Array.isArray(node) ? node[0] : (node as { level: unknown }).level;
    expect(node).toEqual({ text: '[REDACTED:github-token]' });
  });

  it('keeps two keys that redact alike apart, and paths carry the redacted key', () => {
    const a = ['ghp_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A'].join('');
    const b = ['ghp_', 'zZ3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5B'].join('');
    const scan = scanValue({ [a]: 1, [b]: 2 }, '$', 'response');
    expect(scan.redacted).toEqual({ '[REDACTED:github-token]': 1, '[REDACTED:github-token]#2': 2 });
    expect(scan.findings.map((f) => f.path)).toEqual(['$["[REDACTED:github-token]"]', '$["[REDACTED:github-token]#2"]']);
  });
});
