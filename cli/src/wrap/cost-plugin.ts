import { costUsd, familyOf, resolvePrice, toolFixedCostUsd } from '@km/shared/dist/pricing';
import { estimateTokens } from '@km/shared/dist/tokens';
import type { CostSettings } from '../config/cost-config';
import { isObject } from './jsonrpc';
import type { ObserverPlugin } from './observer';

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The text of a content block the client hands the model. Images and audio are priced by the vendor per image, not counted here. */
function contentText(block: unknown): string {
  if (!isObject(block)) return '';
  if (block.type === 'text') return text(block.text);
  if (block.type === 'resource' && isObject(block.resource)) return text(block.resource.text);
  if (block.type === 'resource_link') return `${text(block.name)} ${text(block.uri)}`;
  return '';
}

/** What of a response enters the model's context: tool output, resource contents, prompt messages, error text. */
export function contextText(method: string, result: unknown, error: { message: string } | null): string {
  if (error) return error.message;
  if (!isObject(result)) return '';
  switch (method) {
    case 'tools/call': {
      const blocks = Array.isArray(result.content) ? result.content.map(contentText).filter(Boolean) : [];
      if (blocks.length > 0) return blocks.join('\n');
      return result.structuredContent === undefined ? '' : JSON.stringify(result.structuredContent);
    }
    case 'resources/read':
      return Array.isArray(result.contents) ? result.contents.map((c) => (isObject(c) ? text(c.text) : '')).join('\n') : '';
    case 'prompts/get':
      return Array.isArray(result.messages) ? result.messages.map((m) => (isObject(m) ? contentText(m.content) : '')).join('\n') : '';
    default:
      return '';
  }
}

/** What the model wrote to make the call: the tool's name and its arguments as JSON. */
export function generatedText(method: string, params: Record<string, unknown> | undefined): string {
  if (method !== 'tools/call' || !params) return '';
  return JSON.stringify({ name: params.name, arguments: params.arguments ?? {} });
}

/**
 * Cost Center (#3): estimates the tokens and the USD of every interaction and the context tax of tools/list,
 * priced for one model (CostSettings). Runs on the observer thread; the tokenizer loads on first use.
 */
export function costPlugin(settings: CostSettings, serverName: string): ObserverPlugin {
  const price = resolvePrice(settings.model, settings.pricing);
  const family = price?.family ?? familyOf(settings.model);
  return {
    interaction(draft, exchange) {
      const tokensIn = estimateTokens(contextText(draft.method, exchange.result, exchange.error), family);
      const tokensOut = estimateTokens(generatedText(draft.method, exchange.params), family);
      // A call km's policy refused never reached the tool, so it cost the tool's price nothing.
      const called = draft.method === 'tools/call' && draft.target && draft.outcome !== 'unanswered' && !draft.refusedByPolicy;
      const fixed = called ? toolFixedCostUsd(serverName, draft.target!, settings.toolCosts) : 0;
      draft.tokensIn = tokensIn;
      draft.tokensOut = tokensOut;
      draft.costUsd = price ? costUsd(price, tokensIn, tokensOut, fixed) : null;
      draft.model = settings.model;
    },
    toolsListed(draft, tools) {
      draft.contextTokens = estimateTokens(JSON.stringify(tools), family);
    },
  };
}
