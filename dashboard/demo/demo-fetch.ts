import type { HttpResponseInit } from '@azure/functions';
import type { DemoApi } from './demo-stack';

/**
 * window.fetch for the demo page: `/api/...` on the page's origin is answered in the page by the demo stack, so
 * the dashboard's own client (src/api.ts) runs unchanged and nothing leaves the browser; anything else goes to the
 * network as usual.
 */
export function installDemoFetch(api: DemoApi): void {
  const networkFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin !== location.origin || !(url.pathname === '/api' || url.pathname.startsWith('/api/'))) return networkFetch(input, init);
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : new Uint8Array(await request.arrayBuffer());
    return responseOf(await api(request.method, url, request.headers, body));
  };
}

/** A handler's result as @azure/functions' HttpResponse would send it: jsonBody as JSON, body as is. */
function responseOf(init: HttpResponseInit): Response {
  const headers = new Headers(init.headers as HeadersInit | undefined);
  let body: BodyInit | null = null;
  if (init.jsonBody !== undefined) {
    body = JSON.stringify(init.jsonBody);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  } else if (init.body !== undefined && init.body !== null) {
    body = init.body as BodyInit;
  }
  return new Response(body, { status: init.status ?? 200, headers });
}
