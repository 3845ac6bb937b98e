import type { HttpRequest } from '@azure/functions';
import { errorResponse, type HttpHandler } from './http-results';

export const JSON_MEDIA_TYPE = 'application/json';

/**
 * Why the request's Content-Type is not JSON, or null when it is. A text/plain, form or multipart body is what a
 * web page can send without a preflight, so reading it as JSON anyway would open the API to such pages. The
 * media type and charset compare case-insensitively; JSON is UTF-8 (RFC 8259), so another charset is refused too.
 */
export function contentTypeProblem(request: HttpRequest): string | null {
  const header = request.headers.get('content-type');
  if (header === null || header.trim() === '') return 'the request has no Content-Type';
  const [mediaType = '', ...parameters] = header.split(';').map((part) => part.trim());
  if (mediaType.toLowerCase() !== JSON_MEDIA_TYPE) return `Content-Type "${mediaType}" is not ${JSON_MEDIA_TYPE}`;
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=').map((part) => part.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
    if (name === 'charset' && value !== 'utf-8' && value !== 'utf8') return `charset "${value}" is not utf-8`;
  }
  return null;
}

/** The route rule for every route that reads a JSON body (routes.ts applies it): anything else is a 415. */
export function requireJsonContentType(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    const problem = contentTypeProblem(request);
    if (problem === null) return handler(request, context);
    return errorResponse(415, `${problem}: send the body as JSON with "Content-Type: ${JSON_MEDIA_TYPE}" (gzip Content-Encoding is fine).`, {
      expected: JSON_MEDIA_TYPE,
    });
  };
}
