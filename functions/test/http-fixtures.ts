import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';

/** Requests built the way the Functions host builds them, so handlers are tested exactly as they run. */
export function anHttpRequest(init: {
  method?: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  params?: Record<string, string>;
}): HttpRequest {
  const { body } = init;
  return new HttpRequest({
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    url: `http://127.0.0.1:7071${init.path}`,
    // A body comes with its length, as over HTTP (the host passes the client's headers on).
    headers: { ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }), ...init.headers },
    params: init.params ?? {},
    ...(body === undefined ? {} : { body: typeof body === 'string' ? { string: body } : { bytes: body } }),
  });
}

/** A context whose log lines are kept, so a test can assert that a failure was logged. */
export function anInvocationContext(functionName = 'test'): InvocationContext & { logged: string[] } {
  const logged: string[] = [];
  const context = new InvocationContext({
    invocationId: 'invocation-1',
    functionName,
    logHandler: (level, ...args) => logged.push(`${level} ${args.join(' ')}`),
  });
  return Object.assign(context, { logged });
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export function jsonOf(response: HttpResponseInit): any {
  return response.jsonBody;
}
