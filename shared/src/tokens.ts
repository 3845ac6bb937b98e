import type { countTokens as CountTokens } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * Token estimates for what enters (or leaves) a model's context.
 *
 * OpenAI models: o200k_base, counted exactly with gpt-tokenizer. Claude and Gemini tokenizers are not available
 * offline, so their counts are the o200k count times a stated factor (TOKENIZER_FACTORS): Claude's tokenizer
 * yields noticeably more tokens than o200k for the same English text and JSON (about 1.2x in our spot checks of
 * published counts), Gemini's about the same (1.0x). These are estimates for cost tracking, not billing records.
 *
 * Large payloads are sampled, so counting stays cheap (gpt-tokenizer does about 1.4M tokens/s on these machines):
 * above SAMPLE_ABOVE_CHARS, SAMPLE_WINDOWS windows of SAMPLE_WINDOW_CHARS characters, evenly spaced from the start
 * to the end, are counted exactly, and their tokens-per-character ratio is applied to the whole length.
 */
export type TokenizerFamily = 'openai' | 'anthropic' | 'google';

export const TOKENIZER_FACTORS: Readonly<Record<TokenizerFamily, number>> = { openai: 1, anthropic: 1.2, google: 1 };

export const SAMPLE_ABOVE_CHARS = 64 * 1024;
export const SAMPLE_WINDOWS = 16;
export const SAMPLE_WINDOW_CHARS = 2048;

let counter: typeof CountTokens | null = null;
/** Loaded on first use: the o200k ranks are megabytes, and most km processes never count a token. */
function o200k(): typeof CountTokens {
  counter ??= (require('gpt-tokenizer/encoding/o200k_base') as { countTokens: typeof CountTokens }).countTokens;
  return counter;
}

function countExact(text: string): number {
  try {
    // Special-token spellings in a tool result are plain text to the model's API: count them as text.
    return o200k()(text, { allowedSpecial: 'all' } as never);
  } catch {
    return Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
  }
}

/** o200k tokens of a text: exact up to SAMPLE_ABOVE_CHARS, sampled above (see the file comment). */
export function countO200kTokens(text: string): number {
  if (text.length <= SAMPLE_ABOVE_CHARS) return countExact(text);
  const stride = (text.length - SAMPLE_WINDOW_CHARS) / (SAMPLE_WINDOWS - 1);
  let sampledTokens = 0;
  let sampledChars = 0;
  for (let i = 0; i < SAMPLE_WINDOWS; i++) {
    const start = Math.floor(i * stride);
    const window = text.slice(start, start + SAMPLE_WINDOW_CHARS);
    sampledTokens += countExact(window);
    sampledChars += window.length;
  }
  return Math.round((sampledTokens / sampledChars) * text.length);
}

/** The estimated tokens of a text for a tokenizer family. */
export function estimateTokens(text: string, family: TokenizerFamily): number {
  if (text.length === 0) return 0;
  return Math.round(countO200kTokens(text) * TOKENIZER_FACTORS[family]);
}
