import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { jsonLine, SseMessages } from './message-lines';

/**
 * `km proxy`'s forwarding (issue 13): a local Streamable HTTP endpoint in front of a remote MCP server. Requests,
 * JSON answers and SSE streams pass through as they are, status and headers included (Authorization,
 * Mcp-Session-Id, Mcp-Protocol-Version, a 401 with WWW-Authenticate, the protected-resource metadata), so the
 * client's own sign-in works through it. The JSON-RPC messages in the bodies are handed to `observe` after they
 * were forwarded.
 */
/**
 * channel: whose JSON-RPC ids a line uses. Clients of one proxy number their requests each from 0: the request's
 * Mcp-Session-Id. An initialize, which has none yet, is paired in its own exchange (two clients start at once).
 * Other requests without one (a server without sessions) share one channel: a client's cancel or its answer to the
 * server's request comes in another POST than the request it is about.
 */
export type Observe = (direction: 'client_to_server' | 'server_to_client', line: Buffer, channel: string) => void;

/** Headers about one hop, not the message (RFC 9110 7.6.1), and what Node sets itself. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

const forwardable = (headers: IncomingMessage['headers']) => Object.fromEntries(Object.entries(headers).filter(([name, value]) => value !== undefined && !HOP_BY_HOP.has(name)));
const isJson = (type: string | undefined) => /^application\/json\b/i.test(type ?? '');
const isEventStream = (type: string | undefined) => /^text\/event-stream\b/i.test(type ?? '');

/** Where a request to the proxy goes: the upstream endpoint, or for discovery (/.well-known/...) the same path on its origin. */
export function upstreamFor(upstream: URL, requestPath: string): URL {
  const asked = new URL(requestPath, 'http://proxy.invalid');
  if (asked.pathname.startsWith('/.well-known/')) return new URL(asked.pathname + asked.search, upstream.origin);
  const target = new URL(upstream.href);
  for (const [key, value] of asked.searchParams) target.searchParams.append(key, value);
  return target;
}

export function startProxy(upstream: URL, observe: Observe): Server {
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  let initializes = 0;
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = upstreamFor(upstream, req.url ?? '/');
    const session = req.headers['mcp-session-id'];
    let channel = typeof session === 'string' && session !== '' ? `session:${session}` : 'sessionless';
    const clientLine = (line: Buffer) => {
      if (channel === 'sessionless' && isInitialize(line)) channel = `initialize:${++initializes}`;
      observe('client_to_server', line, channel);
    };
    const outgoing = send(target, { method: req.method, headers: { ...forwardable(req.headers), host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardable(answer.headers));
      answer.pipe(res);
      observeBody(answer, answer.headers['content-type'], (line) => observe('server_to_client', line, channel));
    });
    outgoing.on('error', (err) => {
      if (res.headersSent) {
        res.destroy(err);
        return;
      }
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `km proxy: ${target.host} did not answer: ${err.message}` }));
    });
    req.pipe(outgoing);
    observeBody(req, req.headers['content-type'], clientLine);
    res.on('close', () => outgoing.destroy()); // the client went away: so does the upstream request (an SSE stream)
  });
}

/** A line holding an initialize request (alone, or in a batch). */
function isInitialize(line: Buffer): boolean {
  try {
    const value = JSON.parse(line.toString('utf8')) as unknown;
    return (Array.isArray(value) ? value : [value]).some((message) => (message as { method?: unknown } | null)?.method === 'initialize');
  } catch {
    return false;
  }
}

function observeBody(stream: IncomingMessage, type: string | undefined, emit: (line: Buffer) => void): void {
  if (isEventStream(type)) {
    const sse = new SseMessages(emit);
    const text = new StringDecoder('utf8'); // a character may be split across chunks
    stream.on('data', (chunk: Buffer) => sse.push(text.write(chunk)));
    stream.on('end', () => sse.end());
    return;
  }
  if (!isJson(type)) return;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => {
    const line = jsonLine(Buffer.concat(chunks).toString('utf8'));
    if (line) emit(line);
  });
}
