import type { Readable, Writable } from 'node:stream';
import type { Block, Policy } from './policy';
import { isObject } from '../is-object';

/**
 * The hot path when km.json has a policy (and only then; without one, run.ts keeps its plain pipes). Client lines
 * are read whole and decided before forwarding: a blocked request never reaches the server, and the client gets a
 * JSON-RPC error instead. Server bytes still flow as they come, except that a tools/list response is held until its
 * line is complete so denied tools can be removed, and an injected error waits for a line boundary so that it is
 * never written inside a partial line of the server's.
 */
export interface GateStreams {
  clientIn: Readable;
  clientOut: Writable;
  childIn: Writable;
  childOut: Readable;
  /** Hands forwarded bytes to the observer: 0 client to server, 1 server to client. */
  tap(direction: 0 | 1, chunk: Buffer): void;
  /** requestIds: the ids (as JSON text) km answers for this refusal: its request's and, for a batch, the rest's. */
  blocked(block: Block & { method: string; target: string | null; requestIds: string[] }): void;
}

const NEWLINE = 0x0a;
/** JSON-RPC server-error range: what km answers for a request the project's policy refuses. */
export const POLICY_ERROR_CODE = -32001;

interface Request {
  id: unknown;
  method: string;
  params: Record<string, unknown> | undefined;
}

function parse(line: Buffer): unknown {
  try {
    return JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
}

const idKey = (id: unknown) => JSON.stringify(id);

function asRequest(value: unknown): Request | null {
  if (!isObject(value) || typeof value.method !== 'string' || value.id === undefined) return null;
  return { id: value.id, method: value.method, params: isObject(value.params) ? value.params : undefined };
}

/** Server to client: bytes pass at once, tools/list responses are rewritten, injected lines wait for a boundary. */
export class ServerStream {
  private atBoundary = true;
  private holding = false;
  private held: Buffer[] = [];
  private queued: Buffer[] = [];
  readonly pendingToolsLists = new Set<string>();

  constructor(
    private readonly policy: Policy,
    private readonly write: (bytes: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    const out: Buffer[] = [];
    let start = 0;
    while (start < chunk.length) {
      if (this.atBoundary) {
        out.push(...this.queued.splice(0));
        this.holding = this.policy.filtersTools && this.pendingToolsLists.size > 0;
      }
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl + 1;
      const piece = chunk.subarray(start, end);
      if (this.holding) this.held.push(piece);
      else out.push(piece);
      this.atBoundary = nl !== -1;
      if (this.atBoundary && this.holding) out.push(this.rewrite(Buffer.concat(this.held.splice(0))));
      start = end;
    }
    if (this.atBoundary) out.push(...this.queued.splice(0));
    if (out.length > 0) this.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** A line of km's own (a JSON-RPC error): now if the server is between lines, else right after its current line. */
  inject(line: Buffer): void {
    if (this.atBoundary) this.write(line);
    else this.queued.push(line);
  }

  end(): void {
    const rest = [...this.held.splice(0), ...this.queued.splice(0)];
    if (rest.length > 0) this.write(Buffer.concat(rest));
  }

  private rewrite(line: Buffer): Buffer {
    const value = parse(line);
    if (!isObject(value) || !('result' in value) || !this.pendingToolsLists.delete(idKey(value.id))) return line;
    const result = value.result;
    if (!isObject(result) || !Array.isArray(result.tools)) return line;
    const visible = this.policy.visibleTools(result.tools);
    if (visible === null) return line;
    return Buffer.from(JSON.stringify({ ...value, result: { ...result, tools: visible } }) + '\n');
  }
}

export function startPolicyGate(policy: Policy, streams: GateStreams): void {
  const { clientIn, clientOut, childIn, childOut, tap } = streams;
  // Backpressure as pipe() does it: pause the source until the destination drains (one waiter at a time).
  const writer = (source: Readable, destination: Writable) => {
    let waiting = false;
    return (bytes: Buffer) => {
      if (destination.write(bytes) || waiting) return;
      waiting = true;
      source.pause();
      destination.once('drain', () => {
        waiting = false;
        source.resume();
      });
    };
  };
  const toClient = writer(childOut, clientOut);
  const toServer = writer(clientIn, childIn);
  const server = new ServerStream(policy, (bytes) => {
    tap(1, bytes);
    toClient(bytes);
  });
  childOut.on('data', (chunk: Buffer) => server.push(chunk));
  childOut.on('end', () => server.end());

  const forward = (bytes: Buffer) => {
    tap(0, bytes);
    toServer(bytes);
  };

  const refusal = (request: Request, reason: string, ruleId: string) => ({ jsonrpc: '2.0', id: request.id, error: { code: POLICY_ERROR_CODE, message: reason, data: { ruleId } } });

  /** One whole client line: forwarded untouched, or answered by km and dropped. */
  const decide = (line: Buffer) => {
    const value = parse(line);
    const items = Array.isArray(value) ? value : [value];
    const refused: Array<{ request: Request; block: Block }> = [];
    let dropsNotification = false;
    for (const item of items) {
      const request = asRequest(item);
      if (request) {
        const block = policy.request(request.method, request.params);
        if (block) refused.push({ request, block });
      } else if (isObject(item) && typeof item.method === 'string' && policy.serverBlock()) {
        dropsNotification = true; // a notification to a denied server: dropped, unanswered
      }
    }
    if (refused.length === 0 && !dropsNotification) {
      for (const item of items) {
        const request = asRequest(item);
        if (request?.method === 'tools/list') server.pendingToolsLists.add(idKey(request.id));
      }
      forward(line);
      return;
    }
    // A batch with one refused request is refused whole (rewriting it would change bytes the server signs off on),
    // and every request in it is answered, so the client never waits for an id nobody will answer.
    const refusedIds = new Set(refused.map(({ request }) => idKey(request.id)));
    const batchMates = items.map(asRequest).filter((request): request is Request => request !== null && !refusedIds.has(idKey(request.id)));
    const answers = refused.map(({ request, block }) => refusal(request, `km policy: ${block.reason}. Change km.json (policy) if this call should be allowed.`, block.ruleId));
    for (const request of batchMates) answers.push(refusal(request, 'km policy: its batch held a request the policy refuses; send it on its own.', 'policy-batch'));
    // Noted before the line is tapped, with every id km answers, so the observer knows these never reached the server.
    refused.forEach(({ request, block }, i) => {
      const target = request.method === 'tools/call' && typeof request.params?.name === 'string' ? request.params.name : null;
      const requestIds = [idKey(request.id), ...(i === 0 ? batchMates.map((mate) => idKey(mate.id)) : [])];
      streams.blocked({ ...block, method: request.method, target, requestIds });
    });
    tap(0, line);
    if (answers.length === 0) return;
    const reply = Array.isArray(value) ? answers : answers[0];
    server.inject(Buffer.from(JSON.stringify(reply) + '\n'));
  };

  const partial: Buffer[] = [];
  clientIn.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl + 1);
      decide(partial.length > 0 ? Buffer.concat([...partial.splice(0), piece]) : piece);
      start = nl + 1;
    }
    if (start < chunk.length) partial.push(chunk.subarray(start));
  });
  clientIn.on('end', () => {
    if (partial.length > 0) decide(Buffer.concat(partial.splice(0)));
    childIn.end();
  });
}
