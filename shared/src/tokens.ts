import { O200K_VOCABULARY } from './o200k-vocabulary';
import { TOKEN_FILTER_SHAPE, TokenFilter } from './token-filter';

/**
 * Token estimates for what enters (or leaves) a model's context.
 *
 * OpenAI models: o200k_base, estimated without its 4 MB rank table (loading it cost the wrapper 67 MB of heap and
 * blocked the observer for 0.4-1.4 s, long enough to miss a session's end): the text is split exactly as o200k
 * splits it (O200K_PIECES, its pre-tokenizer pattern), and each piece is cut greedily into the longest prefixes that
 * a Bloom filter of the o200k vocabulary knows. BPE merges do not always give the longest match, so this is an
 * estimate: within 1% in aggregate and 3% for 9 in 10 texts on English, code, JSON and random ids, within about 20%
 * on CJK (shared/test/tokens-pricing.unit.test.ts measures it against gpt-tokenizer). Claude and Gemini tokenizers
 * are not available offline, so their counts are the o200k count times a stated factor (TOKENIZER_FACTORS):
 * Claude's tokenizer yields noticeably more tokens than o200k for the same English text and JSON (about 1.2x in our
 * spot checks of published counts), Gemini's about the same (1.0x). Estimates for cost tracking, not billing records.
 *
 * Large payloads are sampled, so counting stays cheap: above SAMPLE_ABOVE_CHARS, SAMPLE_WINDOWS windows of
 * SAMPLE_WINDOW_CHARS characters, evenly spaced from the start to the end, are counted, and their tokens-per-character
 * ratio is applied to the whole length.
 */
export type TokenizerFamily = 'openai' | 'anthropic' | 'google';

export const TOKENIZER_FACTORS: Readonly<Record<TokenizerFamily, number>> = { openai: 1, anthropic: 1.2, google: 1 };

export const SAMPLE_ABOVE_CHARS = 64 * 1024;
export const SAMPLE_WINDOWS = 16;
export const SAMPLE_WINDOW_CHARS = 2048;

const CONTRACTION = "'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])";
/** o200k_base's pre-tokenizer: BPE never merges across these pieces, so a text's count is the sum of its pieces'. */
export const O200K_PIECES = new RegExp(
  [
    `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:${CONTRACTION})?`,
    `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:${CONTRACTION})?`,
    `\\p{N}{1,3}`,
    ` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*`,
    `\\s*[\\r\\n]+`,
    `\\s+(?!\\S)`,
    `\\s+`,
  ].join('|'),
  'gu',
);

let vocabulary: TokenFilter | null = null;
const known = (text: string) => (vocabulary ??= new TokenFilter(O200K_VOCABULARY.bitCount, O200K_VOCABULARY.base64)).has(text);

/** A character no token spells: its UTF-8 bytes, about two tokens when it takes three or four bytes. */
const unknownCharTokens = (codePoint: number) => (codePoint < 0x800 ? 1 : 2);

function pieceTokens(piece: string): number {
  let tokens = 0;
  let at = 0;
  while (at < piece.length) {
    let length = Math.min(TOKEN_FILTER_SHAPE.maxTokenLength, piece.length - at);
    while (length > 1 && !known(piece.slice(at, at + length))) length--;
    const codePoint = piece.codePointAt(at)!;
    if (length === 1 && codePoint >= 0x80 && !known(String.fromCodePoint(codePoint))) {
      tokens += unknownCharTokens(codePoint);
      at += codePoint > 0xffff ? 2 : 1;
    } else {
      tokens++;
      at += length;
    }
  }
  return tokens;
}

function countPieces(text: string): number {
  let tokens = 0;
  for (const piece of text.match(O200K_PIECES) ?? []) tokens += pieceTokens(piece);
  return tokens;
}

/** o200k tokens of a text: estimated up to SAMPLE_ABOVE_CHARS, sampled above (see the file comment). */
export function countO200kTokens(text: string): number {
  if (text.length <= SAMPLE_ABOVE_CHARS) return countPieces(text);
  const stride = (text.length - SAMPLE_WINDOW_CHARS) / (SAMPLE_WINDOWS - 1);
  let sampledTokens = 0;
  let sampledChars = 0;
  for (let i = 0; i < SAMPLE_WINDOWS; i++) {
    const start = Math.floor(i * stride);
    const window = text.slice(start, start + SAMPLE_WINDOW_CHARS);
    sampledTokens += countPieces(window);
    sampledChars += window.length;
  }
  return Math.round((sampledTokens / sampledChars) * text.length);
}

/** The estimated tokens of a text for a tokenizer family. */
export function estimateTokens(text: string, family: TokenizerFamily): number {
  if (text.length === 0) return 0;
  return Math.round(countO200kTokens(text) * TOKENIZER_FACTORS[family]);
}
