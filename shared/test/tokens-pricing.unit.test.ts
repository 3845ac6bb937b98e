import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import {
  costUsd,
  countO200kTokens,
  estimateTokens,
  familyOf,
  PRICE_TABLE,
  PRICE_TABLE_DATE,
  resolvePrice,
  SAMPLE_ABOVE_CHARS,
  toolFixedCostUsd,
  TOKENIZER_FACTORS,
} from '../src/index';

describe('token estimates', () => {
  it.each([
    ['hello world', 2],
    ['Hello, world!', 4],
    ['', 0],
  ])('counts %j as the o200k tokenizer does', (text, expected) => {
    expect(countO200kTokens(text)).toBe(expected);
    expect(countO200kTokens(text)).toBe(encode(text).length);
  });

  it('counts a JSON tool result exactly as the tokenizer does', () => {
    const text = JSON.stringify({ entities: [{ name: 'km', observations: ['counts MCP calls', 'prices them'] }] });
    expect(countO200kTokens(text)).toBe(encode(text).length);
  });

  it('treats special-token spellings in a tool result as text', () => {
    expect(countO200kTokens('a <|endoftext|> b')).toBeGreaterThan(3);
  });

  it('applies the stated family factors (Claude x1.2, Gemini and OpenAI x1)', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    const o200k = encode(text).length;
    expect(estimateTokens(text, 'openai')).toBe(o200k);
    expect(estimateTokens(text, 'anthropic')).toBe(Math.round(o200k * TOKENIZER_FACTORS.anthropic));
    expect(estimateTokens(text, 'google')).toBe(Math.round(o200k * TOKENIZER_FACTORS.google));
  });

  it('samples very large payloads and stays within a few percent of the exact count', () => {
    const row = (i: number) => `{"id":${i},"name":"item ${i}","tags":["alpha","beta"],"note":"value ${i * 7919}"}`;
    const text = Array.from({ length: 4000 }, (_, i) => row(i)).join('\n');
    expect(text.length).toBeGreaterThan(SAMPLE_ABOVE_CHARS);
    const exact = encode(text).length;
    const sampled = countO200kTokens(text);
    expect(Math.abs(sampled - exact) / exact).toBeLessThan(0.05);
  });
});

describe('prices', () => {
  it('has a dated table with input, output and cached input prices for Claude, GPT and Gemini', () => {
    expect(PRICE_TABLE_DATE).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const family of ['anthropic', 'openai', 'google']) {
      expect(Object.values(PRICE_TABLE).some((price) => price.family === family)).toBe(true);
    }
    for (const price of Object.values(PRICE_TABLE)) expect(price.cachedInput).toBeLessThanOrEqual(price.input);
  });

  it('resolves exact names, dated snapshots by prefix, overrides first, and nothing for unknown models', () => {
    expect(resolvePrice('gpt-4o')).toEqual(PRICE_TABLE['gpt-4o']);
    expect(resolvePrice('claude-sonnet-4-5-20250929')).toEqual(PRICE_TABLE['claude-sonnet-4-5']);
    expect(resolvePrice('gpt-4o', { 'gpt-4o': { input: 1, output: 2 } })).toEqual({ input: 1, output: 2, cachedInput: 1.25, family: 'openai' });
    expect(resolvePrice('my-local-llm', { 'my-local-llm': { input: 0, output: 0 } })).toMatchObject({ input: 0, cachedInput: 0, family: 'openai' });
    expect(resolvePrice('no-such-model')).toBeNull();
    expect(familyOf('claude-haiku-4-5')).toBe('anthropic');
    expect(familyOf('gemini-2.5-pro')).toBe('google');
  });

  it('prices tokens in as input and tokens out as output, per million, plus the fixed cost', () => {
    const table = { input: 3, output: 15, cachedInput: 0.3, family: 'anthropic' as const };
    expect(costUsd(table, 1_000_000, 0)).toBe(3);
    expect(costUsd(table, 0, 1_000_000)).toBe(15);
    expect(costUsd(table, 2000, 100, 0.001)).toBeCloseTo(0.006 + 0.0015 + 0.001, 12);
  });

  it('finds per-tool fixed costs by exact key, else the longest matching glob on server/tool', () => {
    const toolCosts = { 'github/*': 0.001, 'github/create_*': 0.002, 'github/create_issue': 0.005, '*/search': 0.01 };
    expect(toolFixedCostUsd('github', 'create_issue', toolCosts)).toBe(0.005);
    expect(toolFixedCostUsd('github', 'create_pr', toolCosts)).toBe(0.002);
    expect(toolFixedCostUsd('github', 'list_issues', toolCosts)).toBe(0.001);
    expect(toolFixedCostUsd('brave', 'search', toolCosts)).toBe(0.01);
    expect(toolFixedCostUsd('memory', 'read_graph', toolCosts)).toBe(0);
    expect(toolFixedCostUsd('a.b', 'c', { 'a.b/*': 1, 'axb/*': 2 })).toBe(1);
  });
});
