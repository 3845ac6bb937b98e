import { join } from 'node:path';
import { redactEventStrings } from '@km/shared/dist/risk/fields';
import type { ProjectConfigFile } from '../config/project-config';
import type { InteractionDraft, ObserverPlugin } from './observer';
import type { OtelExporter, OtelTarget } from './otel-export';
import { isObject } from '../is-object';

/**
 * OpenTelemetry export (issue 13): with KM_OTLP_ENDPOINT (or km.json `otlp`), each interaction becomes a span and
 * its duration a histogram sample, named by the GenAI semantic conventions for MCP, plus km's tokens and cost. It
 * runs last among the plugins (the cost is filled in by then), on the observer thread, from the redacted draft:
 * what goes to the collector is what goes to the spool.
 */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Where to export, from KM_OTLP_ENDPOINT / KM_OTLP_HEADERS ("k=v,k2=v2") or km.json `otlp` (a URL or { endpoint, headers }). */
export function otelTarget(env: NodeJS.ProcessEnv, projectConfig: ProjectConfigFile | null): OtelTarget | null {
  const fromFile = projectConfig?.config?.otlp;
  const endpoint = env.KM_OTLP_ENDPOINT || (typeof fromFile === 'string' ? fromFile : isObject(fromFile) && typeof fromFile.endpoint === 'string' ? fromFile.endpoint : '');
  if (!endpoint || !/^https?:\/\//.test(endpoint)) return null;
  const headers: Record<string, string> = {};
  if (isObject(fromFile) && isObject(fromFile.headers)) for (const [k, v] of Object.entries(fromFile.headers)) if (typeof v === 'string') headers[k] = v;
  for (const pair of (env.KM_OTLP_HEADERS ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return { endpoint, headers };
}

export interface OtelSession {
  sessionId: string;
  serverName: string;
  transport: 'stdio' | 'http';
}

export function otelPlugin(target: OtelTarget, session: OtelSession): ObserverPlugin {
  // Its own bundle (the SDK is large): loaded only when exporting.
  const { startOtelExporter } = require(join(__dirname, 'otel-export.js')) as typeof import('./otel-export');
  const exporter: OtelExporter = startOtelExporter(target, { 'km.server.name': session.serverName });
  const transport = session.transport === 'http' ? 'tcp' : 'pipe';
  return {
    interaction(raw, exchange) {
      const draft = redactEventStrings(raw) as InteractionDraft;
      const tool = draft.method === 'tools/call' ? draft.target : null;
      // A request the client abandoned (it ended the session) is no error of the server's span.
      const errorType = draft.outcome === 'error' ? String(draft.error?.code ?? 'error') : draft.outcome === 'ok' || draft.abandoned ? null : draft.outcome;
      const meta = isObject(exchange.params?._meta) ? exchange.params._meta : {};
      const traceparent = typeof meta.traceparent === 'string' && TRACEPARENT.test(meta.traceparent) ? meta.traceparent : null;
      const low = {
        'mcp.method.name': draft.method,
        'network.transport': transport,
        'km.server.name': session.serverName,
        ...(tool ? { 'gen_ai.tool.name': tool, 'gen_ai.operation.name': 'execute_tool' } : {}),
        ...(errorType ? { 'error.type': errorType } : {}),
      };
      const startMs = Date.parse(draft.startedAt);
      exporter.interaction(
        {
          name: tool ? `${draft.method} ${tool}` : draft.method,
          startMs,
          endMs: draft.endedAt ? Date.parse(draft.endedAt) : startMs,
          attributes: {
            ...low,
            'mcp.session.id': session.sessionId,
            'jsonrpc.request.id': draft.requestId,
            ...(draft.protocolVersion ? { 'mcp.protocol.version': draft.protocolVersion } : {}),
            ...(draft.tokensIn !== null ? { 'km.tokens.input': draft.tokensIn } : {}),
            ...(draft.tokensOut !== null ? { 'km.tokens.output': draft.tokensOut } : {}),
            ...(draft.costUsd !== null ? { 'km.cost.usd': draft.costUsd } : {}),
          },
          error: errorType,
          traceparent,
          tracestate: traceparent && typeof meta.tracestate === 'string' ? meta.tracestate.slice(0, 512) : null,
        },
        draft.latencyMs === null ? null : draft.latencyMs / 1000,
        low,
      );
    },
    ended(end) {
      exporter.sessionEnded(end.durationMs / 1000, { 'network.transport': transport, 'km.server.name': session.serverName });
    },
    flush: () => exporter.flush(),
  };
}
