import { isServerEvent, type Finding, type KmEvent, type ServerEvent } from '../../events';
import { addSaturating, type Projection } from '../projection';

/**
 * The funnel of issue 15, one document per org: landing views (recorded in the operator's org, a visitor has none),
 * sign-ins, API keys made, and the org's first event, first interaction and first tool call. Counts and first/last
 * instants only: the document stays the same size however many events the org sends, and every field is a sum, a
 * min or a max, so the fold is order-independent.
 */
export const FUNNEL_DOC_ID = 'funnel';
/** The findings kept of a first interaction: enough to show, bounded. */
export const FIRST_FINDINGS_KEPT = 5;

export interface FunnelCount {
  count: number;
  first: string | null;
  last: string | null;
}

/** What the first-run page shows of a recorded call. */
export interface FirstCall {
  /** `<receivedAt>|<event id>`: the smallest wins, in any fold order. */
  key: string;
  receivedAt: string;
  sessionId: string;
  server: string;
  method: string;
  target: string | null;
  outcome: string;
  latencyMs: number | null;
  tokensIn: number | null;
  tokensOut: number | null;
  costUsd: number | null;
  findingCount: number;
  findings: Finding[];
}

export interface FunnelDoc {
  id: string;
  orgId: string;
  landingViews: FunnelCount;
  signIns: FunnelCount;
  keysCreated: FunnelCount;
  /** Client events of the org, as the server received them. */
  events: FunnelCount;
  /** The org's first event (any type): when, what and from which server. */
  firstEvent: { key: string; receivedAt: string; type: string; sessionId: string; server: string } | null;
  firstInteraction: FirstCall | null;
  firstToolCall: FirstCall | null;
}

export type FunnelEvent = KmEvent | ServerEvent;

const FUNNEL_SERVER_EVENTS: ReadonlySet<string> = new Set(['funnel.landing_viewed', 'member.signed_in', 'key.created']);

const emptyCount = (): FunnelCount => ({ count: 0, first: null, last: null });
const emptyFunnel = (orgId: string): FunnelDoc => ({
  id: FUNNEL_DOC_ID,
  orgId,
  landingViews: emptyCount(),
  signIns: emptyCount(),
  keysCreated: emptyCount(),
  events: emptyCount(),
  firstEvent: null,
  firstInteraction: null,
  firstToolCall: null,
});

// ISO instants of one spelling (UTC, 'Z') compare as text.
const min = (a: string | null, b: string) => (a === null || b < a ? b : a);
const max = (a: string | null, b: string) => (a === null || b > a ? b : a);
const counted = (count: FunnelCount, at: string): FunnelCount => ({ count: addSaturating(count.count, 1), first: min(count.first, at), last: max(count.last, at) });
const earliest = <T extends { key: string }>(kept: T | null, candidate: T): T => (kept === null || candidate.key < kept.key ? candidate : kept);

/** When the server took the event: receivedAt on what the log holds, else (a bare event in a test) its own ts. */
const receivedAt = (event: FunnelEvent): string => (event as { receivedAt?: string }).receivedAt ?? event.ts;

function firstCall(event: Extract<KmEvent, { type: 'mcp.interaction' }>, at: string): FirstCall {
  return {
    key: `${at}|${event.id}`,
    receivedAt: at,
    sessionId: event.sessionId,
    server: event.server.name,
    method: event.method,
    target: event.target,
    outcome: event.outcome,
    latencyMs: event.latencyMs,
    tokensIn: event.tokensIn,
    tokensOut: event.tokensOut,
    costUsd: event.costUsd,
    findingCount: event.findings.length,
    findings: event.findings.slice(0, FIRST_FINDINGS_KEPT).map((finding) => ({ ...finding })),
  };
}

function applyEvent(doc: FunnelDoc, event: FunnelEvent): void {
  const at = receivedAt(event);
  if (isServerEvent(event)) {
    if (event.type === 'funnel.landing_viewed') doc.landingViews = counted(doc.landingViews, event.ts);
    else if (event.type === 'member.signed_in') doc.signIns = counted(doc.signIns, event.ts);
    else if (event.type === 'key.created') doc.keysCreated = counted(doc.keysCreated, event.ts);
    return;
  }
  doc.events = counted(doc.events, at);
  doc.firstEvent = earliest(doc.firstEvent, { key: `${at}|${event.id}`, receivedAt: at, type: event.type, sessionId: event.sessionId, server: event.server.name });
  if (event.type !== 'mcp.interaction' || event.direction !== 'client_to_server') return;
  const call = firstCall(event, at);
  doc.firstInteraction = earliest(doc.firstInteraction, call);
  if (event.method === 'tools/call') doc.firstToolCall = earliest(doc.firstToolCall, call);
}

export const funnelProjection: Projection<FunnelDoc, FunnelEvent> = {
  name: 'funnel',
  foldsServerEvents: true,
  docIds: (event) => (!isServerEvent(event) || FUNNEL_SERVER_EVENTS.has(event.type) ? [FUNNEL_DOC_ID] : []),
  evolve: (state, event) => funnelAfter(state, [event]),
  evolveBatch: (state, events) => (events.length === 0 ? (state as FunnelDoc) : funnelAfter(state, events)),
};

/** The document after the events: copied once per batch (its nested values are replaced, never changed). */
function funnelAfter(state: FunnelDoc | null, events: readonly FunnelEvent[]): FunnelDoc {
  const doc: FunnelDoc = state ? { ...state } : emptyFunnel(events[0]!.orgId);
  for (const event of events) applyEvent(doc, event);
  return doc;
}

/** The funnel as GET /api/funnel answers it: the counts, and the time between the steps (null until both happened). */
export interface FunnelView {
  orgId: string;
  landingViews: FunnelCount;
  signIns: FunnelCount;
  keysCreated: FunnelCount;
  firstEventAt: string | null;
  eventCount: number;
  gapsMs: { landingToSignIn: number | null; signInToKey: number | null; keyToFirstEvent: number | null; signInToFirstEvent: number | null };
}

const gap = (from: string | null, to: string | null): number | null => {
  if (from === null || to === null) return null;
  const ms = Date.parse(to) - Date.parse(from);
  // A step done before the one it follows (a key made before anyone signed in, events shipped with km serve's own key) has no gap to show.
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
};

export function funnelView(orgId: string, doc: FunnelDoc | null): FunnelView {
  const funnel = doc ?? emptyFunnel(orgId);
  const firstEventAt = funnel.firstEvent?.receivedAt ?? null;
  return {
    orgId,
    landingViews: funnel.landingViews,
    signIns: funnel.signIns,
    keysCreated: funnel.keysCreated,
    firstEventAt,
    eventCount: funnel.events.count,
    gapsMs: {
      landingToSignIn: gap(funnel.landingViews.first, funnel.signIns.first),
      signInToKey: gap(funnel.signIns.first, funnel.keysCreated.first),
      keyToFirstEvent: gap(funnel.keysCreated.first, firstEventAt),
      signInToFirstEvent: gap(funnel.signIns.first, firstEventAt),
    },
  };
}

/** What GET /api/first-run answers: the org's first event and calls, without the sort keys. */
export function firstRunView(orgId: string, doc: FunnelDoc | null) {
  const strip = <T extends { key: string }>(value: T | null) => {
    if (value === null) return null;
    const { key: _key, ...rest } = value;
    return rest;
  };
  return { orgId, firstEvent: strip(doc?.firstEvent ?? null), firstInteraction: strip(doc?.firstInteraction ?? null), firstToolCall: strip(doc?.firstToolCall ?? null) };
}
