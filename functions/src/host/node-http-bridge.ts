import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit, type LogLevel } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger';

/**
 * Reads a node request body, stopping at `maxBytes`: the handlers check sizes too, but only the host sees the
 * bytes arrive, so only it can keep a huge upload from being buffered at all.
 */
export function readBodyAtMost(request: IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        request.off('data', onData);
        request.pause();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.on('end', () => resolve(Buffer.concat(chunks, size)));
    // A client that goes away mid-upload gets no answer; its half body must not reach a handler.
    request.on('close', () => {
      if (!request.complete) resolve('aborted');
    });
    request.on('error', () => resolve('aborted'));
  });
}

/** The node request as @azure/functions builds it in the cloud: the body's bytes pass through unchanged (gzip). */
export function toHttpRequest(
  request: IncomingMessage,
  baseUrl: string,
  body: Buffer,
  params: Record<string, string>,
): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const method = request.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new HttpRequest({
    method,
    url: `${baseUrl}${request.url ?? '/'}`,
    headers,
    params,
    ...(hasBody ? { body: { bytes: body } } : {}),
  });
}

export function invocationContextFor(functionName: string, logger: Logger): InvocationContext {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    logHandler: (level: LogLevel, ...args: unknown[]) => {
      const message = `${functionName}: ${args.map(String).join(' ')}`;
      if (level === 'error' || level === 'critical') logger.error(message);
      else if (level === 'warning') logger.warn(message);
      else if (level === 'information') logger.info(message);
    },
  });
}

/** Writes a handler's result with the library's own HttpResponse, so jsonBody and headers behave as in Azure. */
export async function writeHttpResponse(res: ServerResponse, init: HttpResponseInit, headOnly = false): Promise<void> {
  if (init.body instanceof ReadableStream) return streamHttpResponse(res, init, init.body, headOnly);
  const response = new HttpResponse(init);
  const body = Buffer.from(await response.arrayBuffer());
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  res.setHeader('content-length', body.length);
  res.end(headOnly ? undefined : body);
}

/**
 * A streamed answer (the audit export) goes out as it is made, chunk by chunk, waiting for the socket to drain:
 * a million records never sit in memory. A client that goes away stops the stream.
 */
async function streamHttpResponse(res: ServerResponse, init: HttpResponseInit, body: ReadableStream<Uint8Array>, headOnly: boolean): Promise<void> {
  res.statusCode = init.status ?? 200;
  for (const [name, value] of Object.entries((init.headers ?? {}) as Record<string, string>)) res.setHeader(name, value);
  const reader = body.getReader();
  if (headOnly) {
    await reader.cancel();
    return void res.end();
  }
  let gone = false;
  res.on('close', () => (gone = true));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone) break;
      if (!res.write(value)) await drained(res);
    }
  } catch (error) {
    // A stream that fails half way must not end like a whole one: the client sees the connection cut, not a body
    // that looks complete. The dispatcher logs why.
    res.destroy();
    throw error;
  }
  if (gone) await reader.cancel().catch(() => undefined);
  res.end();
}

/** Resolves when the socket takes more, or is gone; leaves no listener behind either way. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
