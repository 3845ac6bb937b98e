import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import {
  costUsd,
  countO200kTokens,
  O200K_PIECES,
  estimateTokens,
  familyOf,
  PRICE_TABLE,
  PRICE_TABLE_DATE,
  resolvePrice,
  SAMPLE_ABOVE_CHARS,
  toolFixedCostUsd,
  TOKENIZER_FACTORS,
} from '../src/index';

/** Texts of the kinds tools return: prose, code, JSON, JSON-escaped prose, ids and base64, and other scripts. */
function corpus(): Array<[string, string]> {
  const root = join(__dirname, '..', '..');
  const files = ['README.md', 'shared/src/events.ts', 'functions/src/projector.ts', 'cli/src/wrap/cost-plugin.ts', 'package.json', 'shared/src/risk/COVERAGE.md'];
  const texts: Array<[string, string]> = files.map((file) => [file, readFileSync(join(root, file), 'utf8').slice(0, 60_000)]);
  texts.push(['JSON-escaped README', JSON.stringify({ content: [{ type: 'text', text: readFileSync(join(root, 'README.md'), 'utf8').slice(0, 20_000) }] })]);
  let seed = 7;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
  texts.push(['base64', bytes(3000).toString('base64')], ['hex ids', Array.from({ length: 50 }, () => bytes(16).toString('hex')).join(',')]);
  return texts;
}

describe('token estimates', () => {
  it.each([
    ['hello world', 2],
    ['Hello, world!', 4],
    ['', 0],
  ])('counts %j as the o200k tokenizer does', (text, expected) => {
    expect(countO200kTokens(text)).toBe(expected);
    expect(countO200kTokens(text)).toBe(encode(text).length);
  });

  it('splits text exactly as o200k pre-tokenizes it: every character in one piece, in order', () => {
    for (const [, text] of corpus()) expect((text.match(O200K_PIECES) ?? []).join('')).toBe(text);
  });

  it('estimates o200k within 3% per text and 1.5% in aggregate on prose, code, JSON and ids (measured against gpt-tokenizer)', () => {
    let estimated = 0;
    let exact = 0;
    for (const [name, text] of corpus()) {
      const truth = encode(text).length;
      const estimate = countO200kTokens(text);
      estimated += estimate;
      exact += truth;
      expect({ name, error: Math.abs(estimate - truth) / truth < 0.03 }).toEqual({ name, error: true });
    }
    expect(Math.abs(estimated - exact) / exact).toBeLessThan(0.015);
  });

  it('stays within 25% on other scripts and emoji', () => {
    const texts = [
      'Die Kilometerzähler für KI-Agenten zeichnen jede Interaktion auf. Überprüfen Sie die Kosten und die Latenz.',
      'Les agents d’IA appellent des outils via des serveurs MCP et les équipes ne savent pas ce que coûtent ces appels.',
      'Команды позволяют агентам вызывать инструменты через серверы MCP и не знают, сколько стоят эти вызовы.',
      'チームはAIエージェントにMCPサーバー経由でツールを呼び出させていますが、その呼び出しにかかるコストを知りません。',
      '팀은 AI 에이전트가 MCP 서버를 통해 도구를 호출하도록 하지만, 그 호출에 드는 비용을 알지 못합니다.',
      '🚀 Deploy done ✅ — 3 warnings ⚠️, 0 errors ❌. Café naïve résumé façade.',
    ];
    for (const text of texts) {
      const truth = encode(text).length;
      expect(Math.abs(countO200kTokens(text) - truth) / truth).toBeLessThan(0.25);
    }
  });

  it('treats special-token spellings in a tool result as text', () => {
    expect(countO200kTokens('a <|endoftext|> b')).toBeGreaterThan(3);
  });

  it('applies the stated family factors (Claude x1.2, Gemini and OpenAI x1)', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    const o200k = countO200kTokens(text);
    expect(o200k).toBe(encode(text).length);
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

  it('ships the vocabulary filter that the build script makes from gpt-tokenizer', () => {
    const file = join(__dirname, '..', 'src', 'o200k-vocabulary.ts');
    const committed = readFileSync(file, 'utf8');
    const script = join(__dirname, '..', 'scripts', 'build-o200k-vocabulary.mjs');
    const out = mkdtempSync(join(tmpdir(), 'km-o200k-'));
    execFileSync(process.execPath, [script, join(out, 'o200k-vocabulary.ts')], { stdio: 'ignore' });
    expect(readFileSync(join(out, 'o200k-vocabulary.ts'), 'utf8')).toBe(committed);
    rmSync(out, { recursive: true, force: true });
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
