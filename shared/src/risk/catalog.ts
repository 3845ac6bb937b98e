import { RULES_BY_ID, type FindingKind, type Severity } from './rules';
import { DESTRUCTIVE_TOOL_RULE } from './scan';
import { POISONING_RULES } from './poisoning';

/** Every rule id km can report, with its kind: findings carry only the id, the read model derives the kind. */
const KINDS = new Map<string, FindingKind>([
  ...[...RULES_BY_ID].map(([id, rule]) => [id, rule.kind] as const),
  [DESTRUCTIVE_TOOL_RULE.id, 'destructive'],
  ['secret-assignment', 'secret'],
  ...POISONING_RULES.map((rule) => [rule.id, 'poisoning'] as const),
  ['rug-pull', 'rug_pull'],
]);

export const RUG_PULL_RULE = { id: 'rug-pull', severity: 'high' as Severity };

export function findingKind(ruleId: string): FindingKind {
  if (ruleId.startsWith('policy-')) return 'policy';
  if (ruleId.startsWith('anomaly-')) return 'anomaly';
  return KINDS.get(ruleId) ?? 'secret';
}

export const FINDING_KINDS: readonly FindingKind[] = ['secret', 'pii', 'path', 'destructive', 'poisoning', 'rug_pull', 'anomaly', 'policy'];
export { SEVERITIES } from './rules';
