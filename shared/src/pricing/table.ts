import type { TokenizerFamily } from '../tokens';

/** USD per million tokens. cachedInput: the price of a prompt-cache read. */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput: number;
  family: TokenizerFamily;
}

/**
 * List prices (standard tier, prompts up to 200k tokens where tiers differ), transcribed from the vendors' pricing
 * pages: https://www.anthropic.com/pricing#api, https://openai.com/api/pricing/, https://ai.google.dev/gemini-api/docs/pricing.
 * As of PRICE_TABLE_DATE; prices change: override or add models in km.json `pricing` (see README, Cost Center).
 */
export const PRICE_TABLE_DATE = '2025-11-24';

export const PRICE_TABLE: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-4-5': { input: 5, output: 25, cachedInput: 0.5, family: 'anthropic' },
  'claude-opus-4-1': { input: 15, output: 75, cachedInput: 1.5, family: 'anthropic' },
  'claude-sonnet-4-5': { input: 3, output: 15, cachedInput: 0.3, family: 'anthropic' },
  'claude-sonnet-4': { input: 3, output: 15, cachedInput: 0.3, family: 'anthropic' },
  'claude-haiku-4-5': { input: 1, output: 5, cachedInput: 0.1, family: 'anthropic' },
  'gpt-5.1': { input: 1.25, output: 10, cachedInput: 0.125, family: 'openai' },
  'gpt-5': { input: 1.25, output: 10, cachedInput: 0.125, family: 'openai' },
  'gpt-5-mini': { input: 0.25, output: 2, cachedInput: 0.025, family: 'openai' },
  'gpt-5-nano': { input: 0.05, output: 0.4, cachedInput: 0.005, family: 'openai' },
  'gpt-4.1': { input: 2, output: 8, cachedInput: 0.5, family: 'openai' },
  'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25, family: 'openai' },
  o3: { input: 2, output: 8, cachedInput: 0.5, family: 'openai' },
  'gemini-3-pro-preview': { input: 2, output: 12, cachedInput: 0.2, family: 'google' },
  'gemini-2.5-pro': { input: 1.25, output: 10, cachedInput: 0.125, family: 'google' },
  'gemini-2.5-flash': { input: 0.3, output: 2.5, cachedInput: 0.03, family: 'google' },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4, cachedInput: 0.01, family: 'google' },
};

/** The model km prices with when neither km.json `model` nor KM_MODEL names one. */
export const DEFAULT_MODEL = 'claude-sonnet-4-5';
