import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countO200kTokens, DEFAULT_MODEL } from '@km/shared';
import { loadCostSettings } from '../src/config/cost-config';
import { contextText, costPlugin, generatedText } from '../src/wrap/cost-plugin';
import type { InteractionDraft, ToolsListedDraft } from '../src/wrap/observer';
import { tempHome } from './helpers';
import { findProjectConfigFile } from '../src/config/project-config';

const draft = (method: string, target: string | null): InteractionDraft =>
  ({ method, target, outcome: 'ok', tokensIn: null, tokensOut: null, costUsd: null }) as unknown as InteractionDraft;

describe('the cost plugin', () => {
  it('counts the text a tool result puts into the context, and the arguments the model wrote', () => {
    const result = { content: [{ type: 'text', text: 'Echo: hi' }, { type: 'image', data: 'AAAA', mimeType: 'image/png' }, { type: 'resource', resource: { uri: 'file:///a', text: 'body' } }] };
    expect(contextText('tools/call', result, null)).toBe('Echo: hi\nbody');
    expect(contextText('tools/call', { content: [], structuredContent: { sum: 42 } }, null)).toBe('{"sum":42}');
    expect(contextText('resources/read', { contents: [{ uri: 'x', text: 'file text' }] }, null)).toBe('file text');
    expect(contextText('prompts/get', { messages: [{ role: 'user', content: { type: 'text', text: 'prompt' } }] }, null)).toBe('prompt');
    expect(contextText('tools/call', undefined, { message: 'Unknown tool' })).toBe('Unknown tool');
    expect(contextText('initialize', { protocolVersion: 'x' }, null)).toBe('');
    expect(generatedText('tools/call', { name: 'echo', arguments: { message: 'hi' } })).toBe('{"name":"echo","arguments":{"message":"hi"}}');
    expect(generatedText('resources/read', { uri: 'x' })).toBe('');
  });

  it('fills tokens, cost and the model on interactions, and context tokens on tools/list', () => {
    const plugin = costPlugin({ model: 'gpt-4o', pricing: {}, toolCosts: { 'github/*': 0.001 }, notes: [] }, 'github');
    const call = draft('tools/call', 'search');
    const params = { name: 'search', arguments: { q: 'km' } };
    plugin.interaction!(call, { params, result: { content: [{ type: 'text', text: 'three results about km' }] }, error: null });
    const tokensIn = countO200kTokens('three results about km');
    const tokensOut = countO200kTokens(JSON.stringify(params));
    expect(call).toMatchObject({ tokensIn, tokensOut, model: 'gpt-4o' });
    expect(call.costUsd).toBeCloseTo((tokensIn * 2.5 + tokensOut * 10) / 1e6 + 0.001, 12);

    // Refused by km's policy: its tokens are in the context, but the tool never ran, so its own price is not paid.
    const refused = { ...draft('tools/call', 'search'), outcome: 'error', refusedByPolicy: true } as InteractionDraft;
    const message = 'km policy: tool "search" is denied';
    plugin.interaction!(refused, { params, result: undefined, error: { code: -32001, message } });
    expect(refused.costUsd).toBeCloseTo((countO200kTokens(message) * 2.5 + tokensOut * 10) / 1e6, 12);

    const init = draft('initialize', null);
    plugin.interaction!(init, { params: {}, result: {}, error: null });
    expect(init).toMatchObject({ tokensIn: 0, tokensOut: 0, costUsd: 0 });

    const listed = { contextTokens: null } as unknown as ToolsListedDraft;
    const tools = [{ name: 'search', description: 'Search the web', inputSchema: { type: 'object' } }];
    plugin.toolsListed!(listed, tools);
    expect(listed.contextTokens).toBe(countO200kTokens(JSON.stringify(tools)));
  });

  it('records tokens but no cost for a model without a price', () => {
    const call = draft('tools/call', 'x');
    costPlugin({ model: 'mystery-1', pricing: {}, toolCosts: {}, notes: [] }, 's').interaction!(call, { params: { name: 'x' }, result: { content: [{ type: 'text', text: 'abc' }] }, error: null });
    expect(call).toMatchObject({ costUsd: null, model: 'mystery-1' });
    expect(call.tokensIn).toBeGreaterThan(0);
  });
});

describe('cost settings', () => {
  it('reads the nearest km.json upward; KM_MODEL wins over its model; the default otherwise', () => {
    const root = tempHome('km-cost-config');
    const deep = join(root, 'a', 'b');
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(root, 'km.json'), JSON.stringify({ project: 'x', model: 'gpt-5', pricing: { 'gpt-5': { input: 1, output: 2 } }, toolCosts: { 'github/*': 0.01 } }));
    expect(loadCostSettings({}, findProjectConfigFile(deep))).toEqual({ model: 'gpt-5', pricing: { 'gpt-5': { input: 1, output: 2 } }, toolCosts: { 'github/*': 0.01 }, notes: [] });
    expect(loadCostSettings({ KM_MODEL: 'claude-haiku-4-5' }, findProjectConfigFile(deep)).model).toBe('claude-haiku-4-5');
    expect(loadCostSettings({}, findProjectConfigFile(tempHome('km-no-config'))).model).toBe(DEFAULT_MODEL);
  });

  it('ignores invalid cost settings with a note instead of failing the session', () => {
    const dir = tempHome('km-bad-config');
    writeFileSync(join(dir, 'km.json'), JSON.stringify({ toolCosts: { 'github/*': -1 } }));
    const settings = loadCostSettings({}, findProjectConfigFile(dir));
    expect(settings.toolCosts).toEqual({});
    expect(settings.notes[0]).toMatch(/toolCosts\.github\/\*/);
    writeFileSync(join(dir, 'km.json'), '{ not json');
    expect(loadCostSettings({}, findProjectConfigFile(dir)).notes[0]).toMatch(/km\.json:1:3: unexpected character$/);
  });
});
