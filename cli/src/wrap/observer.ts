import { createHash } from 'node:crypto';
import type { Direction, Finding, KmEvent } from '@km/shared';
import { newEventId } from '@km/shared/dist/ids';
import { safeField } from '@km/shared/dist/risk/fields';
import { matchText, redacts } from '@km/shared/dist/risk/rules';
import { classify, isObject, targetOf, type RpcMessage } from './jsonrpc';
import type { Frame } from './line-framer';

type EnvelopeKey = 'orgId' | 'projectId' | 'userId' | 'machineId' | 'sessionId' | 'server';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event as the observer makes it: id and time fixed now, the envelope stamped by the recorder. */
export type EventDraft = DistributiveOmit<KmEvent, EnvelopeKey>;

type DraftOf<T extends KmEvent['type']> = Extract<EventDraft, { type: T }>;
export type InteractionDraft = DraftOf<'mcp.interaction'>;
export type ToolsListedDraft = DraftOf<'mcp.tools_listed'>;

/** One request and what answered it, as parsed off the wire (loose: other people's JSON). */
export interface Exchange {
  params: Record<string, unknown> | undefined;
  /** False when the observer is behind (see ObserveMode): plugins leave the previews out. */
  previews?: boolean;
  /** The result object; undefined for errors and unanswered requests. */
  result: unknown;
  error: { code: number; message: string } | null;
  /** An error as the wire had it, message and data (scanned for risk, never recorded); undefined without one. */
  rawError?: { message: string; data?: unknown };
}

/**
 * The seam for what the observer does not know about: token and cost estimates, risk findings, redacted
 * previews. Plugins fill fields of a draft before it is recorded and may add events of their own. They run
 * on the observer thread, after forwarding; an exception in one costs that observation only.
 */
export interface ObserverPlugin {
  /** Whether this plugin fills previews: an interaction made without them then counts as a dropped preview. */
  readonly makesPreviews?: boolean;
  interaction?(draft: InteractionDraft, exchange: Exchange): void;
  toolsListed?(draft: ToolsListedDraft, tools: Array<Record<string, unknown>>): EventDraft[] | void;
  /** The session is over (after its last interactions). */
  ended?(end: { durationMs: number }): void;
  /** Sends what the plugin holds (an exporter's batch) before km exits. */
  flush?(): Promise<void>;
}

interface PendingRequest {
  params: Record<string, unknown> | undefined;
  method: string;
  target: string | null;
  startedAt: number;
  bytes: number;
  protocolVersion: string | null;
  clientInfo: { name: string; version?: string } | null;
  /** The caller's mark for where the request's bytes began (the journal's batch number): see oldestPendingMark. */
  mark: number;
  /** Arrived while observations were being dropped: its interaction is counted, not made. */
  dropped: boolean;
  /** Its params went to the bound on pending requests (boundPending). */
  paramsLost: boolean;
  /** km's policy refused it and km answered it: it never reached the server. */
  refusedByPolicy: boolean;
}

/**
 * How much of a frame the observer makes, as far behind as its caller is (wrap/observer-queue.ts): everything; all
 * but the previews (the largest part of an event, and the costliest to make); or nothing but pairing, so that an
 * answer after the backlog still finds its request. Each observation or preview not made is counted.
 */
export type ObserveMode = 'full' | 'no-previews' | 'drop';

export interface ObservedIdentity {
  protocolVersion: string | null;
  client: { name: string; version?: string } | null;
  serverInfo: { name: string; version?: string } | null;
}

const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
const ERROR_MESSAGE_MAX = 500;
const other = (d: Direction): Direction => (d === 'client_to_server' ? 'server_to_client' : 'client_to_server');
/** When and how the client ended the session: its signal, or the end of its stdin (which closes the server's). */
export interface ClientEnded {
  at: number;
  how: 'signal' | 'stdin';
}
/**
 * A request still unanswered when the client ended the session within this long of asking was abandoned, not timed
 * out: health checks kill a server within a second of their last request; a client that waited longer for an
 * answer that never came met a server that did not answer.
 */
const ABANDONED_WITHIN_MS = 5000;
/** The method a finding on a non-JSON line is filed under (there is no JSON-RPC method to name). */
const NON_JSON_METHOD = '(not JSON-RPC)';
/** How many secrets of non-JSON lines a session remembers, to report each once. */
const NON_JSON_SEEN_MAX = 1000;
/** How much of a non-JSON line is scanned for secrets: such a line may be megabytes, the scan stays bounded. */
const NON_JSON_SCAN_MAX = 8192;
/**
 * Whether a request still unanswered at the end was abandoned: the client ended the session soon after asking (it
 * stopped waiting; the server did not time out). A server that exits non-zero once the client closed its stdin
 * crashed with the request, which is the server's.
 */
function abandonedBy(clientEnded: ClientEnded | undefined, startedAt: number, exitCode: number | null): boolean {
  if (!clientEnded || startedAt > clientEnded.at || clientEnded.at - startedAt >= ABANDONED_WITHIN_MS) return false;
  return clientEnded.how === 'signal' || exitCode === 0;
}

const iso = (ms: number) => new Date(ms).toISOString();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** The bounds of the event fields (shared/src/events.ts) that the observer fills from the wire. */
const NAME_MAX = 200;
const VERSION_MAX = 100;
const PROTOCOL_MAX = 50;
const TARGET_MAX = 1000;
const DETAIL_MAX = 500;
const NON_JSON_PREVIEW_MAX = 200;
/**
 * Requests waiting for an answer are bounded: past PENDING_MAX the oldest is given up (counted dropped), and past
 * PENDING_PARAMS_BYTES of requests holding their params the oldest lose them (its previews and token estimate).
 */
const PENDING_MAX = 10_000;
const PENDING_PARAMS_BYTES = 8 * 1024 * 1024;
const REDACTED_PEM_LINE = '[REDACTED:private-key]';
/** A line that opens a PEM private key block and does not also close it. */
const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/;
const PEM_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/;

const wireField = (text: string | null, max: number) => (text === null ? null : safeField(text, max));
/** A request id is kept as JSON text (1 and "1" differ): its value is redacted, escapes inside JSON text would hide a secret. */
function idField(id: string): string {
  const value: unknown = JSON.parse(id);
  // A numeric id is scanned as its digits: a card number sent as an id is still a card number.
  return typeof value === 'string' ? JSON.stringify(safeField(value, NAME_MAX)).slice(0, NAME_MAX) : safeField(id, NAME_MAX);
}

function implementation(value: unknown): { name: string; version?: string } | null {
  if (!isObject(value) || typeof value.name !== 'string') return null;
  return typeof value.version === 'string'
    ? { name: safeField(value.name, NAME_MAX), version: safeField(value.version, VERSION_MAX) }
    : { name: safeField(value.name, NAME_MAX) };
}

/**
 * Turns the frames seen in both directions into events: pairs each request with its response by JSON-RPC id
 * (client-to-server and server-to-client requests alike), notes notifications, tool listings and protocol
 * violations, and learns the protocol revision from initialize, server/discover or per-request _meta,
 * without needing any handshake to have happened.
 */
export class SessionObserver {
  private readonly pending = new Map<string, PendingRequest>();
  private protocolVersion: string | null = null;
  private clientInfo: { name: string; version?: string } | null = null;
  private serverInfo: { name: string; version?: string } | null = null;
  /** Inside a PEM private key printed line by line: each base64 line alone matches no rule, so all are redacted. */
  private readonly inPrivateKey: Record<Direction, boolean> = { client_to_server: false, server_to_client: false };
  /** Observations not made (counted in session.ended's droppedObservations), and previews not made. */
  dropped = 0;
  droppedPreviews = 0;
  private mode: ObserveMode = 'full';
  /** Whose JSON-RPC ids the frame being observed uses (km proxy: the client's MCP session); '' for a stdio session. */
  private channel = '';
  /** Keys of requests given up while pending: an answer to one is already counted, not an unknown id. */
  private readonly abandoned = new Set<string>();
  private paramsBytes = 0;
  /** Ids (JSON text) of client requests km's policy answered, noted before the batch holding their line is observed. */
  private readonly refusedIds = new Set<string>();
  /** The secrets non-JSON lines held so far, by rule and hash: each is one finding a session (nonJsonFindings). */
  private readonly nonJsonSeen = new Set<string>();

  constructor(
    private readonly emit: (draft: EventDraft) => void,
    private readonly plugins: ObserverPlugin[] = [],
  ) {}

  /**
   * mark: where the frame's bytes began, for the caller's own bookkeeping (wrap/session.ts: the journal batch).
   * channel: whose ids these are, where several clients share the session (km proxy): each pairs its own.
   */
  observe(direction: Direction, frame: Frame, mark = 0, mode: ObserveMode = 'full', channel = ''): void {
    this.mode = mode;
    this.channel = channel;
    try {
      this.observeFrame(direction, frame, mark);
    } finally {
      this.mode = 'full';
      this.channel = '';
    }
  }

  private observeFrame(direction: Direction, frame: Frame, mark: number): void {
    if (frame.kind === 'oversized') {
      this.dropped++;
      if (this.mode !== 'drop') this.violation(direction, 'oversized_frame', frame.bytes, `frame of ${frame.bytes} bytes was forwarded but not observed`, frame.at);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(frame.text);
    } catch {
      this.violation(direction, 'non_json', frame.bytes, this.nonJsonDetail(direction, frame.text), frame.at);
      this.nonJsonFindings(direction, frame.text, frame.at);
      return;
    }
    if (Array.isArray(value)) {
      // A JSON-RPC batch: each element stands alone; sizes are shared out so totals still add up.
      const share = value.length > 0 ? Math.floor(frame.bytes / value.length) : frame.bytes;
      if (value.length === 0) this.violation(direction, 'invalid_message', frame.bytes, 'empty batch', frame.at);
      for (const item of value) this.handle(direction, classify(item), share, frame.at, mark);
      return;
    }
    this.handle(direction, classify(value), frame.bytes, frame.at, mark);
  }

  /**
   * The forwarding thread's gate answered these client requests itself (wrap/policy-gate.ts): their interactions say
   * so. Told by the gate, never read off the wire, so a server cannot mark its own calls. The gate's note rides in the
   * batch that carries the refused line (whole, as the gate read it), so the caller ends it after that batch
   * (refusalsSeen): an id whose line was never observed (oversized, not a request) must not mark a later call.
   */
  refusedByPolicy(requestIds: readonly string[]): void {
    for (const id of requestIds) this.refusedIds.add(id);
  }

  refusalsSeen(): void {
    this.refusedIds.clear();
  }

  /** What the session has learned of its peers; a replay of the journal (wrap/session.ts) resumes from it. */
  get identity(): ObservedIdentity {
    return { protocolVersion: this.protocolVersion, client: this.clientInfo, serverInfo: this.serverInfo };
  }

  /** The directions inside a PEM private key printed line by line: a replay resumes there too, or the rest of the key would read as plain lines. */
  get openPrivateKeys(): Direction[] {
    return (['client_to_server', 'server_to_client'] as const).filter((direction) => this.inPrivateKey[direction]);
  }

  resume(identity: ObservedIdentity | null, openPrivateKeys: Direction[] = []): void {
    if (identity) {
      this.protocolVersion = identity.protocolVersion;
      this.clientInfo = identity.client;
      this.serverInfo = identity.serverInfo;
    }
    for (const direction of openPrivateKeys) if (direction in this.inPrivateKey) this.inPrivateKey[direction] = true;
  }

  /** The smallest mark of a request still waiting for its answer, or null when none waits. */
  oldestPendingMark(): number | null {
    let oldest: number | null = null;
    for (const req of this.pending.values()) if (oldest === null || req.mark < oldest) oldest = req.mark;
    return oldest;
  }

  /**
   * A secret or PII on a line that is not JSON (a server's debug print on stdout) is redacted in the violation, and
   * is a finding like one in a result: the Risk Monitor shows it, not only the session's violations.
   */
  private nonJsonFindings(direction: Direction, line: string, at: number): void {
    const window = line.length > NON_JSON_SCAN_MAX ? line.slice(0, NON_JSON_SCAN_MAX) : line;
    const findings = new Map<string, Finding>();
    for (const match of matchText(window, direction === 'client_to_server' ? 'request' : 'response')) {
      if (!redacts(match.rule) || findings.has(match.rule.id)) continue;
      // Once per secret a session: a server printing its token on every line is one finding, not one a line.
      const seen = `${match.rule.id}:${sha256(window.slice(match.start, match.end))}`;
      if (this.nonJsonSeen.has(seen)) continue;
      if (this.nonJsonSeen.size < NON_JSON_SEEN_MAX) this.nonJsonSeen.add(seen);
      findings.set(match.rule.id, { ruleId: match.rule.id, severity: match.rule.severity, path: '$' });
    }
    if (findings.size === 0) return;
    const from = direction === 'server_to_client' ? 'the server' : 'the client';
    const detail = `a line from ${from} that is not JSON held ${[...findings.keys()].join(', ')} (redacted in the session's protocol violations)`;
    this.record({ id: newEventId(), v: 1, ts: iso(at), type: 'risk.detected', method: NON_JSON_METHOD, target: null, findings: [...findings.values()].slice(0, 100), detail: detail.slice(0, DETAIL_MAX) });
  }

  /** A non-JSON line as it may be recorded: redacted, and wholly replaced while inside a PEM private key block. */
  private nonJsonDetail(direction: Direction, line: string): string {
    const begin = PEM_BEGIN.exec(line);
    if (this.inPrivateKey[direction] || begin) {
      const closed = PEM_END.test(begin ? line.slice(begin.index) : line);
      this.inPrivateKey[direction] = !closed;
      return REDACTED_PEM_LINE;
    }
    return safeField(line, NON_JSON_PREVIEW_MAX);
  }

  /** The session is over: requests never answered become 'unanswered' interactions, then session.ended. */
  finish(end: { exitCode: number | null; signal: string | null; startedAt: number; at: number; startError?: string; clientEnded?: ClientEnded }): void {
    for (const [key, req] of this.pending) {
      const { direction, id } = keyParts(key);
      // An initialize never answered (a client that gave up and killed km) still named its client.
      if (req.method === 'initialize' && req.clientInfo && this.clientInfo === null) {
        this.clientInfo = req.clientInfo;
        this.identified('initialize', end.at);
      }
      const abandoned = direction === 'client_to_server' && abandonedBy(end.clientEnded, req.startedAt, end.exitCode);
      this.interaction(direction, id, req, { at: end.at, bytes: 0, outcome: 'unanswered', abandoned }, undefined);
    }
    this.pending.clear();
    this.paramsBytes = 0;
    const durationMs = Math.max(0, end.at - end.startedAt);
    for (const plugin of this.plugins) this.guarded(() => plugin.ended?.({ durationMs }));
    this.emit({
      id: newEventId(),
      v: 1,
      ts: iso(end.at),
      type: 'session.ended',
      exitCode: end.exitCode,
      signal: end.signal,
      durationMs,
      droppedObservations: this.dropped,
      droppedPreviews: this.droppedPreviews,
      ...(end.startError ? { startError: end.startError.slice(0, 500) } : {}),
    });
  }

  /** Events go out unless observations are being dropped: then each counts once (the session's end always goes). */
  private record(draft: EventDraft): void {
    if (this.mode === 'drop') this.dropped++;
    else this.emit(draft);
  }

  private handle(direction: Direction, msg: RpcMessage, bytes: number, at: number, mark: number): void {
    switch (msg.kind) {
      case 'request':
        this.onRequest(direction, msg, bytes, at, mark);
        return;
      case 'notification':
        if (this.mode === 'drop') this.dropped++;
        else this.emit({ id: newEventId(), v: 1, ts: iso(at), type: 'mcp.notification', direction, method: safeField(msg.method, NAME_MAX), bytes });
        if (msg.method === 'notifications/cancelled') this.onCancelled(direction, msg.params?.requestId, at);
        return;
      case 'response':
      case 'error':
        this.onResponse(direction, msg, bytes, at);
        return;
      case 'invalid':
        this.violation(direction, 'invalid_message', bytes, safeField(msg.reason, DETAIL_MAX), at);
        return;
    }
  }

  private onRequest(direction: Direction, msg: Extract<RpcMessage, { kind: 'request' }>, bytes: number, at: number, mark: number): void {
    const meta = isObject(msg.params?._meta) ? msg.params._meta : undefined;
    const metaVersion = typeof meta?.[META_VERSION] === 'string' ? safeField(meta[META_VERSION] as string, PROTOCOL_MAX) : null;
    const metaClient = implementation(meta?.[META_CLIENT_INFO]);
    const key = pendingKey(this.channel, direction, msg.id);
    const reused = this.pending.get(key);
    if (reused) {
      // A client bug: the answer that comes will be taken for the later request. The earlier one still happened,
      // so it is recorded, unanswered, beside the violation, and no call goes uncounted.
      this.violation(direction, 'invalid_message', bytes, `request id ${idField(msg.id)} reused while still pending`, at);
      this.forget(key, reused);
      this.interaction(direction, keyParts(key).id, reused, { at, bytes: 0, outcome: 'unanswered' }, undefined);
    }
    const dropped = this.mode === 'drop';
    this.abandoned.delete(key);
    this.pending.set(key, {
      params: dropped ? undefined : msg.params,
      // Names and URIs leave the machine too: a resource URI may carry a key (?api_key=...).
      method: safeField(msg.method, NAME_MAX),
      target: wireField(targetOf(msg.method, msg.params), TARGET_MAX),
      startedAt: at,
      bytes,
      protocolVersion: metaVersion,
      clientInfo: msg.method === 'initialize' ? implementation(msg.params?.clientInfo) : metaClient,
      mark,
      dropped,
      paramsLost: false,
      refusedByPolicy: direction === 'client_to_server' && this.refusedIds.delete(msg.id),
    });
    if (!dropped && msg.params !== undefined) this.paramsBytes += bytes;
    this.boundPending();
  }

  private forget(key: string, req: PendingRequest): void {
    this.pending.delete(key);
    if (req.params !== undefined) this.paramsBytes -= req.bytes;
  }

  /** The oldest requests lose their params, then themselves, so a peer that never answers cannot grow the map. */
  private boundPending(): void {
    if (this.paramsBytes > PENDING_PARAMS_BYTES) {
      for (const req of this.pending.values()) {
        if (this.paramsBytes <= PENDING_PARAMS_BYTES) break;
        if (req.params === undefined) continue;
        req.params = undefined;
        req.paramsLost = true;
        this.paramsBytes -= req.bytes;
      }
    }
    while (this.pending.size > PENDING_MAX) {
      const [key, req] = this.pending.entries().next().value as [string, PendingRequest];
      this.forget(key, req);
      this.dropped++;
      this.givenUp(key);
    }
  }

  /** An answer to this request, if one still comes, is taken quietly (the set is bounded like the pending map). */
  private givenUp(key: string): void {
    this.abandoned.add(key);
    if (this.abandoned.size > PENDING_MAX) this.abandoned.delete(this.abandoned.values().next().value as string);
  }

  /**
   * A request its sender gave up on (a client's timeout): recorded at once as unanswered, which counts as a timeout
   * (not as a call the client abandoned by leaving, as a health check does), and an answer that still comes is taken
   * quietly.
   */
  private onCancelled(direction: Direction, requestId: unknown, at: number): void {
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const id = JSON.stringify(requestId); // as classify keys ids
    const key = pendingKey(this.channel, direction, id);
    const req = this.pending.get(key);
    if (!req) return;
    this.forget(key, req);
    this.givenUp(key);
    this.interaction(direction, id, req, { at, bytes: 0, outcome: 'unanswered' }, undefined);
  }

  private onResponse(direction: Direction, msg: Extract<RpcMessage, { kind: 'response' | 'error' }>, bytes: number, at: number): void {
    const key = msg.id === null ? null : pendingKey(this.channel, other(direction), msg.id);
    const req = key === null ? undefined : this.pending.get(key);
    if (key !== null && !req && this.abandoned.delete(key)) return; // given up while pending: counted then
    if (!req || key === null) {
      this.violation(direction, 'unknown_response_id', bytes, `response to id ${msg.id === null ? 'null' : idField(msg.id)} that no request used`, at);
      return;
    }
    this.forget(key, req);
    if (req.dropped) this.mode = 'drop'; // the exchange goes as a whole (observe() restores the mode)
    const requestDirection = other(direction);
    if (msg.kind === 'error') {
      const message = safeField(msg.message, ERROR_MESSAGE_MAX);
      const rawError = { message: msg.message, ...(msg.data !== undefined ? { data: msg.data } : {}) };
      this.interaction(requestDirection, msg.id!, req, { at, bytes, outcome: 'error', error: { code: msg.code, message } }, undefined, rawError);
      return;
    }
    const result = isObject(msg.result) ? msg.result : {};
    this.learnFromResult(req, result, requestDirection, at);
    if (req.method === 'tools/list' && Array.isArray(result.tools)) this.toolsListed(result.tools, bytes, at);
    const outcome = result.isError === true ? 'tool_error' : 'ok';
    const resultType = typeof result.resultType === 'string' ? safeField(result.resultType, PROTOCOL_MAX) : null;
    this.interaction(requestDirection, msg.id, req, { at, bytes, outcome, resultType }, msg.result);
  }

  /** The session's revision is one the server answered without error: a refused _meta version is not it. */
  private learnFromResult(req: PendingRequest, result: Record<string, unknown>, requestDirection: Direction, at: number): void {
    if (req.method === 'initialize') {
      if (typeof result.protocolVersion === 'string') this.protocolVersion = safeField(result.protocolVersion, PROTOCOL_MAX);
      this.clientInfo = req.clientInfo ?? this.clientInfo;
      this.serverInfo = implementation(result.serverInfo) ?? this.serverInfo;
      this.identified('initialize', at);
    } else if (req.method === 'server/discover') {
      this.protocolVersion = req.protocolVersion ?? this.protocolVersion;
      this.clientInfo = req.clientInfo ?? this.clientInfo;
      this.serverInfo = implementation(result.serverInfo) ?? this.serverInfo;
      this.identified('discover', at);
    } else if (requestDirection === 'client_to_server' && req.protocolVersion && req.protocolVersion !== this.protocolVersion) {
      this.protocolVersion = req.protocolVersion;
      this.clientInfo = req.clientInfo ?? this.clientInfo;
      this.identified('meta', at);
    }
  }

  private interaction(
    direction: Direction,
    requestId: string,
    req: PendingRequest,
    end: { at: number; bytes: number; outcome: 'ok' | 'error' | 'tool_error' | 'unanswered'; error?: { code: number; message: string }; resultType?: string | null; abandoned?: boolean },
    result: unknown,
    rawError?: Exchange['rawError'],
  ): void {
    if (this.mode === 'drop' || req.dropped) {
      this.dropped++;
      return;
    }
    const answered = end.outcome !== 'unanswered';
    const draft: InteractionDraft = {
      id: newEventId(),
      v: 1,
      ts: iso(end.at),
      type: 'mcp.interaction',
      direction,
      requestId: idField(requestId),
      method: req.method,
      target: req.target,
      protocolVersion: req.protocolVersion ?? this.protocolVersion,
      startedAt: iso(req.startedAt),
      endedAt: answered ? iso(end.at) : null,
      latencyMs: answered ? Math.round((end.at - req.startedAt) * 1000) / 1000 : null,
      requestBytes: req.bytes,
      responseBytes: end.bytes,
      outcome: end.outcome,
      error: end.error ?? null,
      resultType: end.resultType ?? null,
      tokensIn: null,
      tokensOut: null,
      costUsd: null,
      findings: [],
      requestPreview: null,
      responsePreview: null,
      ...(req.refusedByPolicy ? { refusedByPolicy: true as const } : {}),
      ...(end.abandoned ? { abandoned: true as const } : {}),
    };
    // A request that lost its params to the bound has no request preview either.
    const previews = this.mode === 'full' && !req.paramsLost;
    const exchange: Exchange = { params: req.params, result, error: end.error ?? null, previews, ...(rawError ? { rawError } : {}) };
    if (!previews && this.plugins.some((plugin) => plugin.makesPreviews)) this.droppedPreviews++;
    for (const plugin of this.plugins) this.guarded(() => plugin.interaction?.(draft, exchange));
    this.emit(draft);
  }

  /** A failing plugin loses its own contribution, not the event. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch {
      this.dropped++;
    }
  }

  private toolsListed(tools: unknown[], bytes: number, at: number): void {
    if (this.mode === 'drop') {
      this.dropped++;
      return;
    }
    const definitions = tools.filter(isObject).slice(0, 5000);
    const draft: ToolsListedDraft = {
      id: newEventId(),
      v: 1,
      ts: iso(at),
      type: 'mcp.tools_listed',
      tools: definitions.map((tool) => ({
        name: safeField(String(tool.name ?? ''), NAME_MAX) || '(unnamed)',
        descriptionHash: sha256(typeof tool.description === 'string' ? tool.description : ''),
        schemaHash: sha256(JSON.stringify(tool.inputSchema ?? null)),
      })),
      definitionBytes: bytes,
      contextTokens: null,
    };
    const extra: EventDraft[] = [];
    for (const plugin of this.plugins) this.guarded(() => extra.push(...(plugin.toolsListed?.(draft, definitions) ?? [])));
    this.emit(draft);
    extra.forEach((event) => this.emit(event));
  }

  private identified(via: 'initialize' | 'discover' | 'meta', at: number): void {
    this.record({
      id: newEventId(),
      v: 1,
      ts: iso(at),
      type: 'session.identified',
      via,
      protocolVersion: this.protocolVersion,
      client: this.clientInfo,
      serverInfo: this.serverInfo,
    });
  }

  private violation(direction: Direction, kind: 'non_json' | 'invalid_message' | 'unknown_response_id' | 'oversized_frame', bytes: number, detail: string, at: number): void {
    this.record({ id: newEventId(), v: 1, ts: iso(at), type: 'protocol.violation', direction, kind, bytes, detail: detail.slice(0, DETAIL_MAX) });
  }
}

/** A pending request's key: whose ids (the channel; '' for stdio), who asked, and the id as the wire had it. */
const pendingKey = (channel: string, direction: Direction, id: string | number): string => `${channel}\0${direction}:${id}`;

function keyParts(key: string): { direction: Direction; id: string } {
  const rest = key.slice(key.indexOf('\0') + 1);
  return { direction: rest.slice(0, rest.indexOf(':')) as Direction, id: rest.slice(rest.indexOf(':') + 1) };
}
