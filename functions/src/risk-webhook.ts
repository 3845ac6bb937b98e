import { findingKind, type StoredEvent } from '@km/shared';
import { describeError, type Logger } from './logger';

/**
 * The optional webhook for high-severity findings (KM_RISK_WEBHOOK_URL): called after ingest accepted a batch,
 * posts what was found (rule, severity, where; never previews) and retries with backoff in the background. It
 * never blocks ingest and never fails it. A client retry of a batch may notify twice: receivers dedupe by id.
 */
export interface RiskWebhookOptions {
  url: string;
  logger: Logger;
  fetch?: typeof fetch;
  attempts?: number;
  backoffMs?: number;
}

export interface WebhookFinding {
  id: string;
  kind: string;
  ruleId: string;
  severity: string;
  path: string;
  server: string;
  tool: string | null;
  projectId: string;
  userId: string;
  sessionId: string;
  ts: string;
}

const URGENT = new Set(['high', 'critical']);

export function urgentFindings(events: readonly StoredEvent[]): WebhookFinding[] {
  return events.flatMap((event) => {
    if (event.type !== 'mcp.interaction' && event.type !== 'risk.detected') return [];
    return event.findings.flatMap((finding, index) =>
      URGENT.has(finding.severity)
        ? [
            {
              id: `${event.id}.${index}`,
              kind: findingKind(finding.ruleId),
              ...finding,
              server: event.server.name,
              tool: event.target,
              projectId: event.projectId,
              userId: event.userId,
              sessionId: event.sessionId,
              ts: event.ts,
            },
          ]
        : [],
    );
  });
}

export function riskWebhook(options: RiskWebhookOptions): (events: readonly StoredEvent[]) => void {
  const send = options.fetch ?? fetch;
  const attempts = options.attempts ?? 4;
  const backoffMs = options.backoffMs ?? 1000;
  const post = async (findings: WebhookFinding[]) => {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await send(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ source: 'kilometers', findings }),
          signal: AbortSignal.timeout(10_000),
        });
        if (response.ok) return;
        if (response.status < 500 && response.status !== 429) {
          options.logger.warn(`risk webhook refused ${findings.length} finding(s) with ${response.status}; not retried`);
          return;
        }
      } catch (error) {
        if (attempt === attempts) options.logger.warn(`risk webhook unreachable: ${describeError(error)}`);
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)).unref?.());
    }
    options.logger.warn(`risk webhook: gave up on ${findings.length} finding(s) after ${attempts} attempts`);
  };
  // A batch re-sent after a crash between ship and ack reaches here again (ingest stores it once): the same
  // finding is not announced twice by this process. Bounded, oldest forgotten first.
  const announced = new Set<string>();
  return (events) => {
    const findings = urgentFindings(events).filter((finding) => !announced.has(finding.id));
    for (const finding of findings) {
      announced.add(finding.id);
      if (announced.size > ANNOUNCED_KEPT) announced.delete(announced.values().next().value!);
    }
    if (findings.length > 0) void post(findings).catch(() => {});
  };
}

const ANNOUNCED_KEPT = 10_000;
