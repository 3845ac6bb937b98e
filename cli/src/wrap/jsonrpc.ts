import { isObject } from '../is-object';
/**
 * What a JSON-RPC 2.0 message is, read loosely: we observe other people's traffic, so unknown fields are
 * fine and anything we cannot classify is reported, never thrown.
 */
export type RpcMessage =
  | { kind: 'request'; id: string; method: string; params: Record<string, unknown> | undefined }
  | { kind: 'notification'; method: string; params: Record<string, unknown> | undefined }
  | { kind: 'response'; id: string; result: unknown }
  | { kind: 'error'; id: string | null; code: number; message: string; data?: unknown }
  | { kind: 'invalid'; reason: string };


/** JSON text of the id, so that 1 and "1" stay distinct keys. */
function idKey(id: unknown): string | null {
  return typeof id === 'string' || typeof id === 'number' ? JSON.stringify(id) : null;
}

export function classify(value: unknown): RpcMessage {
  if (!isObject(value)) return { kind: 'invalid', reason: 'not a JSON object' };
  const params = isObject(value.params) ? value.params : undefined;
  if (typeof value.method === 'string' && value.method.length > 0) {
    if (value.id === undefined) return { kind: 'notification', method: value.method, params };
    const id = idKey(value.id);
    if (id === null) return { kind: 'invalid', reason: 'request id is neither a string nor a number' };
    return { kind: 'request', id, method: value.method, params };
  }
  if ('error' in value && isObject(value.error)) {
    const code = typeof value.error.code === 'number' && Number.isInteger(value.error.code) ? value.error.code : 0;
    const message = typeof value.error.message === 'string' ? value.error.message : '';
    return { kind: 'error', id: idKey(value.id), code, message, ...('data' in value.error ? { data: value.error.data } : {}) };
  }
  if ('result' in value) {
    const id = idKey(value.id);
    if (id === null) return { kind: 'invalid', reason: 'response without a usable id' };
    return { kind: 'response', id, result: value.result };
  }
  return { kind: 'invalid', reason: 'neither a request, a notification nor a response' };
}

/** The name, prompt or URI a request acts on, for the methods that have one. */
export function targetOf(method: string, params: Record<string, unknown> | undefined): string | null {
  if (!params) return null;
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  switch (method) {
    case 'tools/call':
    case 'prompts/get':
      return str(params.name);
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return str(params.uri);
    case 'completion/complete': {
      const ref = isObject(params.ref) ? params.ref : {};
      return str(ref.name) ?? str(ref.uri);
    }
    default:
      return null;
  }
}

export { isObject };
