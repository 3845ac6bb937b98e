import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isObject } from '../is-object';

/**
 * The 2026-07-28 revision has no handshake: each Streamable HTTP request carries its revision in Mcp-Protocol-Version
 * (from its `_meta`) and mirrors its method and name in Mcp-Method / Mcp-Name (SEP-2243), and a server may refuse a
 * request whose headers do not match its body. The SDK's client transport (1.32) sets none of them for a message it
 * did not negotiate itself, so `km --url` posts through this fetch, which reads them off the body it sends.
 */
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
/** The body field each method's Mcp-Name mirrors. */
const NAME_FIELD: ReadonlyMap<string, string> = new Map([
  ['tools/call', 'name'],
  ['prompts/get', 'name'],
  ['resources/read', 'uri'],
]);

/** Printable ASCII without edge whitespace passes as it is; anything else as SEP-2243's `=?base64?...?=`. */
export function headerValue(value: string): string {
  return /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !value.startsWith('=?base64?') ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The standard headers for one posted body: none for a batch, a response or a notification. */
export function standardHeaders(body: string): Record<string, string> {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return {};
  }
  if (!isObject(message) || typeof message.method !== 'string' || message.id === undefined) return {};
  const params = isObject(message.params) ? message.params : {};
  const headers: Record<string, string> = { 'mcp-method': headerValue(message.method) };
  const name = params[NAME_FIELD.get(message.method) ?? ''];
  if (typeof name === 'string') headers['mcp-name'] = headerValue(name);
  const version = isObject(params._meta) ? params._meta[META_VERSION] : undefined;
  if (typeof version === 'string') headers['mcp-protocol-version'] = headerValue(version);
  return headers;
}

/** fetch with the standard headers on each POST of a JSON-RPC request; other requests (OAuth's forms) go as they are. */
export function withStandardHeaders(fetchFn: FetchLike = fetch): FetchLike {
  return (url, init) => {
    if (init?.method !== 'POST' || typeof init.body !== 'string') return fetchFn(url, init);
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(standardHeaders(init.body))) headers.set(name, value);
    return fetchFn(url, { ...init, headers });
  };
}
