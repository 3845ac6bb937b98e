/** The query API's answers, as the dashboard reads them (README "API" and the cost/risk/latency contracts). */
export interface Session {
  id: string;
  projectId: string;
  userId: string;
  server: { name: string; command: string };
  startedAt: string | null;
  firstSeenAt: string;
  lastActivityAt: string;
  endedAt: string | null;
  exitCode: number | null;
  durationMs: number | null;
  protocolVersion: string | null;
  client: { name: string; version?: string } | null;
  serverInfo: { name: string; version?: string } | null;
  interactionCount: number;
  errorCount: number;
  toolCallCount: number;
  notificationCount: number;
  violationCount: number;
  /** Events the wrapper could not record (spool full, an observation that failed), from session.ended. */
  droppedObservations: number;
}

export type Outcome = 'ok' | 'error' | 'tool_error' | 'unanswered';
export type Severity = 'low' | 'medium' | 'high' | 'critical';

export interface Interaction {
  id: string;
  sessionId: string;
  method: string;
  target: string | null;
  direction: string;
  startedAt: string;
  endedAt: string | null;
  latencyMs: number | null;
  requestBytes: number;
  responseBytes: number;
  outcome: Outcome;
  error: { code: number; message: string } | null;
  tokensIn: number | null;
  tokensOut: number | null;
  costUsd: number | null;
  findings: { ruleId: string; severity: Severity; path: string }[];
  requestPreview: string | null;
  responsePreview: string | null;
  server: { name: string };
  userId: string;
  projectId: string;
}

export interface CostTotals {
  costUsd: number;
  tokensIn: number;
  tokensOut: number;
  interactions: number;
}
export interface CostReport {
  from: string;
  to: string;
  groupBy: string;
  currency: string;
  total: CostTotals;
  groups: (CostTotals & { key: string })[];
}
export interface CostSummary {
  today: CostTotals;
  yesterday: CostTotals;
  monthToDate: CostTotals;
  forecastMonthEnd: CostTotals | number;
  byDay: { day: string; costUsd: number }[];
}
export interface ContextTax {
  servers: { server: string; tools: number; definitionBytes: number; contextTokens: number; costUsdPerSession: number }[];
}
export interface Budgets {
  budgets: { scope: string; projectId: string | null; monthlyUsd: number; period: string; spentUsd: number; percent: number; forecastUsd: number; crossed: number[] }[];
}

export interface RiskFinding {
  id: string;
  kind: string;
  ruleId: string;
  severity: Severity;
  path: string;
  sessionId: string;
  interactionId: string | null;
  server: string;
  tool: string | null;
  userId: string;
  projectId: string;
  ts: string;
  status: 'open' | 'acknowledged' | 'resolved';
  preview: string | null;
  detail: unknown;
}
export interface RiskSummary {
  open: number;
  bySeverity: Record<Severity, number>;
  byRule: { ruleId: string; count: number }[];
  byDay: { day: string; count: number }[];
  anomalies: unknown[];
}

export interface LatencyGroup {
  key: string;
  server: string | null;
  tool: string | null;
  count: number;
  errors: number;
  toolErrors: number;
  timeouts: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  bytesIn: number;
  bytesOut: number;
  totalMs: number;
}
/** GET /api/latency's total: everything its filters pass; percentiles null when no call was answered. */
export interface LatencyTotal {
  count: number;
  errors: number;
  toolErrors: number;
  timeouts: number;
  errorRate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  bytesIn: number;
  bytesOut: number;
  totalMs: number;
}
export interface LatencyReport {
  from: string;
  to: string;
  groupBy: string;
  total: LatencyTotal;
  groups: LatencyGroup[];
}
/** One bucket of /api/latency/timeseries: errorRate as LatencyGroup's; percentiles null in a bucket without calls. */
export type LatencyPoint = { t: string | number } & Pick<LatencyTotal, 'count' | 'errors' | 'toolErrors' | 'timeouts' | 'errorRate' | 'p50' | 'p95' | 'p99' | 'max'>;
export interface SlowInteraction {
  id: string;
  sessionId: string;
  server: string;
  tool: string | null;
  method: string;
  latencyMs: number;
  startedAt: string;
  outcome: Outcome;
}
export interface Bottleneck {
  server: string;
  tool: string | null;
  totalMs: number;
  share: number;
  count: number;
}
