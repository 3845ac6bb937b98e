import type { TokenizerFamily } from '../tokens';
import type { CostConfig } from './config';
import { DEFAULT_MODEL, PRICE_TABLE, PRICE_TABLE_DATE, type ModelPrice } from './table';

export { DEFAULT_MODEL, PRICE_TABLE, PRICE_TABLE_DATE };
export type { ModelPrice };

// The km.json schema is in ./config: zod costs the wrapper's observer thread 10 MB to load (issue 11).
export type { CostConfig } from './config';

export function familyOf(model: string): TokenizerFamily {
  if (/^claude/i.test(model)) return 'anthropic';
  if (/^gemini/i.test(model)) return 'google';
  return 'openai';
}

/**
 * The price of a model: the user's override first, then the table, then the longest table name the model starts
 * with (dated snapshots such as claude-sonnet-4-5-20250929). Null when nothing matches: km then records tokens
 * but no cost rather than guess.
 */
export function resolvePrice(model: string, overrides: CostConfig['pricing'] = {}): ModelPrice | null {
  const override = overrides[model];
  if (override) {
    const base = PRICE_TABLE[model];
    return {
      input: override.input,
      output: override.output,
      cachedInput: override.cachedInput ?? base?.cachedInput ?? override.input,
      family: override.family ?? base?.family ?? familyOf(model),
    };
  }
  const exact = PRICE_TABLE[model];
  if (exact) return exact;
  const prefix = Object.keys(PRICE_TABLE)
    .filter((name) => model.startsWith(name + '-') || model.startsWith(name + '@'))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? PRICE_TABLE[prefix]! : null;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

/** The fixed USD cost of one call of server/tool: an exact key wins, else the longest matching glob; 0 if none. */
export function toolFixedCostUsd(server: string, tool: string, toolCosts: CostConfig['toolCosts'] = {}): number {
  const key = `${server}/${tool}`;
  if (toolCosts[key] !== undefined) return toolCosts[key];
  const match = Object.keys(toolCosts)
    .filter((glob) => globToRegExp(glob).test(key))
    .sort((a, b) => b.length - a.length)[0];
  return match === undefined ? 0 : toolCosts[match]!;
}

/** USD of tokens in (context the result adds), tokens out (arguments the model wrote) and a fixed per-call cost. */
export function costUsd(price: ModelPrice, tokensIn: number, tokensOut: number, fixedUsd = 0): number {
  return (tokensIn * price.input + tokensOut * price.output) / 1_000_000 + fixedUsd;
}
