import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { StreamableHTTPClientTransport as Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { KmOAuthProvider } from './oauth';
import { withStandardHeaders } from './standard-headers';
import { isObject } from '../is-object';

/** OAuth sign-in for servers that ask for it (oauth.ts); off when the user gave an Authorization header. */
export interface RemoteAuth {
  home: string;
  port: number;
  tell(line: string): void;
  browser?: string;
}

/**
 * A remote MCP server (Streamable HTTP) dressed as the child process run.ts forwards to (issue 13): `stdin` takes
 * the client's JSON-RPC lines and posts each message upstream through the official SDK's client transport (session
 * id, protocol version header, SSE answers and the server's own stream); what the server sends comes out of `stdout`
 * as lines. Each request goes with the headers the 2026-07-28 revision wants (standard-headers.ts). So the wrapper's
 * forwarding, policy gate, journal and observer work unchanged, and the session is recorded like a stdio one
 * (transport `http`).
 *
 * A request the upstream could not answer (unreachable, 4xx/5xx, a body that is not JSON-RPC) is answered here with
 * a JSON-RPC error naming the cause, so the client never waits for an id nobody will answer.
 */
export const REMOTE_ERROR_CODE = -32000;
export { DEFAULT_OAUTH_PORT } from './oauth';

type Id = string | number;
const requestIds = (message: unknown): Id[] =>
  (Array.isArray(message) ? message : [message]).flatMap((m) => (isObject(m) && typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number') ? [m.id] : []));

export class RemoteServer extends EventEmitter {
  readonly stdout = new PassThrough();
  readonly stdin: Writable;
  readonly pid = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private readonly transport: Transport;
  /** Sends wait for initialize: its answer carries the session id every later request needs. */
  private initialized: Promise<void> = Promise.resolve();
  private partial = '';
  private ended = false;
  private readonly oauth: KmOAuthProvider | null;
  /** One sign-in at a time: every request refused meanwhile waits for it, then is sent again. */
  private signingIn: Promise<void> | null = null;
  /**
   * Requests sent and not answered yet. The end of stdin waits for their answers, as a server process answers what
   * it read before its EOF: `echo '{"method":"initialize",...}' | km --url URL` got no answer, and its session no
   * client (the observer learns it from initialize's answer).
   */
  private readonly unanswered = new Set<Id>();
  private allAnswered: (() => void) | null = null;

  constructor(
    readonly url: URL,
    headers: Record<string, string>,
    auth?: RemoteAuth,
  ) {
    super();
    const hasAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    this.oauth = auth && !hasAuthorization ? new KmOAuthProvider(auth.home, url, auth.port, auth.tell, auth.browser) : null;
    // The SDK loads only for a remote server: the stdio path stays node built-ins only (run.ts).
    const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js') as typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    this.transport = new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: withStandardHeaders(), ...(this.oauth ? { authProvider: this.oauth } : {}) });
    this.transport.onmessage = (message) => this.fromServer(message);
    this.transport.onerror = () => {}; // each failed send is answered where it failed
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.fromClient(chunk.toString('utf8'));
        done();
      },
      final: (done) => {
        if (this.partial.trim() !== '') this.line(this.partial);
        this.partial = '';
        void this.answered()
          .then(() => this.stop(0, null))
          .then(() => done());
      },
    });
    void this.transport.start().then(
      () => setImmediate(() => this.emit('spawn')),
      (err: Error) => this.emit('error', err),
    );
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    void this.stop(null, signal);
    return true;
  }

  private fromClient(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) if (line.trim() !== '') this.line(line);
  }

  private line(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.answer({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'km: parse error: the line is not JSON (not sent to the remote server)' } });
      return;
    }
    const ids = requestIds(message);
    for (const id of ids) this.unanswered.add(id);
    const isInitialize = (Array.isArray(message) ? message : [message]).some((m) => isObject(m) && m.method === 'initialize');
    const sent = this.initialized.then(() => this.send(message as JSONRPCMessage));
    if (isInitialize) this.initialized = sent.catch(() => {});
    sent.catch((err: Error & { code?: unknown }) => {
      const status = typeof err.code === 'number' && err.code >= 100 ? `HTTP ${err.code}: ` : '';
      const why = `km: the remote server ${this.url.host} did not answer: ${status}${err.message.replace(/^Streamable HTTP error: /, '')}`.slice(0, 1000);
      for (const id of ids) this.answer({ jsonrpc: '2.0', id, error: { code: REMOTE_ERROR_CODE, message: why } });
    });
  }

  /** Sends; a server that wants a sign-in gets one (the browser, then the code back), and the message goes again. */
  private async send(message: JSONRPCMessage): Promise<void> {
    try {
      await this.transport.send(message);
    } catch (err) {
      if (!this.oauth || !(err instanceof UnauthorizedError)) throw err;
      this.signingIn ??= this.oauth
        .authorizationCode()
        .then((code) => this.transport.finishAuth(code))
        .finally(() => (this.signingIn = null));
      await this.signingIn;
      await this.transport.send(message);
    }
  }

  private fromServer(message: JSONRPCMessage): void {
    // Later requests carry the negotiated revision in MCP-Protocol-Version, as the SDK's own client does.
    const result = (message as { result?: unknown }).result;
    if (isObject(result) && typeof result.protocolVersion === 'string' && isObject(result.capabilities)) this.transport.setProtocolVersion(result.protocolVersion);
    this.answer(message);
  }

  private answer(message: unknown): void {
    if (!this.ended) this.stdout.write(JSON.stringify(message) + '\n');
    const id = isObject(message) && !('method' in message) ? message.id : undefined;
    if ((typeof id === 'string' || typeof id === 'number') && this.unanswered.delete(id) && this.unanswered.size === 0) this.allAnswered?.();
  }

  /** Every request sent so far has its answer (the server's, or km's error naming why there is none). */
  private answered(): Promise<void> {
    return this.unanswered.size === 0 ? Promise.resolve() : new Promise((resolve) => (this.allAnswered = resolve));
  }

  /** The client is gone (stdin ended) or signalled: end the HTTP session, then exit like a child would. */
  private async stop(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.allAnswered?.(); // signalled: nothing more is waited for
    await Promise.race([this.transport.terminateSession().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    await this.transport.close().catch(() => {});
    this.exitCode = code;
    this.signalCode = signal;
    this.stdout.end();
    this.emit('exit', code, signal);
    this.stdout.once('close', () => this.emit('close', code, signal));
    this.stdout.resume(); // nothing more will be read: let 'close' come
  }
}
