import { context, SpanKind, SpanStatusCode, type Attributes, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { KM_VERSION } from '../version';

/**
 * The OpenTelemetry side of otel-plugin.ts, in a bundle of its own: loaded on the observer thread only when an
 * OTLP endpoint is configured. Spans and metrics go over OTLP/HTTP (JSON), batched; a collector that is down costs
 * the export, never the session.
 */
export interface OtelTarget {
  /** The collector's base URL (`http://localhost:4318`): /v1/traces and /v1/metrics are added. */
  endpoint: string;
  headers: Record<string, string>;
}

export interface InteractionSpan {
  name: string;
  startMs: number;
  endMs: number;
  attributes: Attributes;
  error: string | null;
  /** W3C trace context from the request's `params._meta.traceparent` (SEP-414): the span's parent. */
  traceparent: string | null;
  tracestate: string | null;
}

export interface OtelExporter {
  interaction(span: InteractionSpan, durationSeconds: number | null, metricAttributes: Attributes): void;
  sessionEnded(durationSeconds: number, attributes: Attributes): void;
  /** Sends what is batched; bounded by the caller's deadline. */
  flush(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();

export function startOtelExporter(target: OtelTarget, service: Attributes): OtelExporter {
  const base = target.endpoint.replace(/\/+$/, '');
  const resource = resourceFromAttributes({ 'service.name': 'km', 'service.version': KM_VERSION, ...service });
  const traces = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces`, headers: target.headers }), { scheduledDelayMillis: 1000 })],
  });
  const reader = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, headers: target.headers }), exportIntervalMillis: 10_000 });
  const meters = new MeterProvider({ resource, readers: [reader] });
  const tracer = traces.getTracer('km', KM_VERSION);
  const meter = meters.getMeter('km', KM_VERSION);
  const operation = meter.createHistogram('mcp.client.operation.duration', { unit: 's', description: 'Duration of MCP requests, as the client saw them through km' });
  const session = meter.createHistogram('mcp.client.session.duration', { unit: 's', description: 'Duration of MCP sessions' });

  const parentOf = (span: InteractionSpan): Context => {
    if (!span.traceparent) return context.active();
    const carrier: Record<string, string> = { traceparent: span.traceparent, ...(span.tracestate ? { tracestate: span.tracestate } : {}) };
    return propagator.extract(context.active(), carrier, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });
  };

  return {
    interaction(span, durationSeconds, metricAttributes) {
      const started = tracer.startSpan(span.name, { kind: SpanKind.CLIENT, startTime: span.startMs, attributes: span.attributes }, parentOf(span));
      if (span.error) started.setStatus({ code: SpanStatusCode.ERROR, message: span.error });
      started.end(span.endMs);
      if (durationSeconds !== null) operation.record(durationSeconds, metricAttributes);
    },
    sessionEnded(durationSeconds, attributes) {
      session.record(durationSeconds, attributes);
    },
    async flush() {
      await Promise.allSettled([traces.forceFlush(), meters.forceFlush()]);
    },
  };
}
