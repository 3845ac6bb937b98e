import { z } from 'zod';
import type { TokenizerFamily } from '../tokens';
import { DEFAULT_MODEL, PRICE_TABLE, PRICE_TABLE_DATE, type ModelPrice } from './table';

export { DEFAULT_MODEL, PRICE_TABLE, PRICE_TABLE_DATE };
export type { ModelPrice };

const usd = z.number().nonnegative().finite();

/** What km.json may say about cost: loose at the top (km.json holds other features' keys too), strict inside. */
export const CostConfigSchema = z.looseObject({
  model: z.string().min(1).max(200).optional(),
  pricing: z
    .record(
      z.string().min(1).max(200),
      z.strictObject({ input: usd, output: usd, cachedInput: usd.optional(), family: z.enum(['openai', 'anthropic', 'google']).optional() }),
    )
    .optional(),
  /** USD per call, by glob on "server/tool" (`*` matches any run of characters): {"github/*": 0.001}. */
  toolCosts: z.record(z.string().min(1).max(400), usd).optional(),
});
export type CostConfig = z.infer<typeof CostConfigSchema>;

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
