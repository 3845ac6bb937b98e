import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { errorResponse } from './http-results';

const gunzipAsync = promisify(gunzip);

export const MIB = 1024 * 1024;

const tooLarge = (what: string, maxBytes: number, advice: string) => errorResponse(413, `${what} is larger than the ${maxBytes}-byte limit: ${advice}.`);

/**
 * The body as JSON, or the response to answer. `maxBytes` bounds the bytes on the wire AND the decompressed JSON,
 * so a client can check one number before sending, and a small gzip bomb cannot expand into memory.
 */
export async function readJsonBody(
  request: HttpRequest,
  maxBytes: number,
  /** What to do about a body past the limit, in the caller's terms (ingest: fewer events per batch). */
  advice = 'send a smaller body',
): Promise<{ body: unknown } | { response: HttpResponseInit }> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) return { response: tooLarge('the request body', maxBytes, advice) };

  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (!['identity', '', 'gzip', 'x-gzip'].includes(encoding)) {
    return { response: errorResponse(415, `Content-Encoding "${encoding}" is not supported: send gzip or no encoding.`) };
  }

  const raw = await readAtMost(request, maxBytes);
  if (raw === null) return { response: tooLarge('the request body', maxBytes, advice) };

  let text: string;
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      text = (await gunzipAsync(raw, { maxOutputLength: maxBytes })).toString('utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return { response: tooLarge('the decompressed body', maxBytes, advice) };
      }
      return { response: errorResponse(400, `body is not valid gzip (Content-Encoding: gzip): ${(error as Error).message}`) };
    }
  } else {
    text = raw.toString('utf8');
  }

  try {
    return { body: JSON.parse(text) as unknown };
  } catch (error) {
    return { response: errorResponse(400, `body is not valid JSON: ${(error as Error).message}`) };
  }
}

/**
 * Reads the stream chunk by chunk and stops at the limit: Content-Length may be absent (chunked) or wrong, and
 * in the cloud the host may stream the body, so only counting what arrives bounds the memory used.
 */
async function readAtMost(request: HttpRequest, maxBytes: number): Promise<Buffer | null> {
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done || !value) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}
