import type {
  BottleneckAnswer,
  BudgetsAnswer,
  ContextTaxAnswer,
  CostFiguresAnswer,
  CostReportAnswer,
  CostSummaryAnswer,
  InteractionAnswer,
  LatencyGroupAnswer,
  LatencyReportAnswer,
  LatencySummaryAnswer,
  RiskFindingAnswer,
  RiskSummaryAnswer,
  SessionAnswer,
  SlowInteractionAnswer,
  TeamAnswer,
  TimeseriesPointAnswer,
} from '@km/shared';

/*
 * The query API's answers as the dashboard reads them: z.infer of the contract's answer schemas (shared/src/api),
 * imported as types only, so nothing of shared (which needs Node) is bundled and the two cannot drift.
 */
export type Session = SessionAnswer;
export type Team = TeamAnswer;
export type Interaction = InteractionAnswer;
export type Outcome = InteractionAnswer['outcome'];
export type Severity = RiskFindingAnswer['severity'];

export type CostTotals = CostFiguresAnswer;
export type CostReport = CostReportAnswer;
export type CostSummary = CostSummaryAnswer;
export type ContextTax = ContextTaxAnswer;
export type Budgets = BudgetsAnswer;

export type RiskFinding = RiskFindingAnswer;
export type RiskSummary = RiskSummaryAnswer;

export type LatencyGroup = LatencyGroupAnswer;
/** GET /api/latency's total: everything its filters pass; percentiles null when no call was answered. */
export type LatencyTotal = LatencySummaryAnswer;
export type LatencyReport = LatencyReportAnswer;
/** One bucket of /api/latency/timeseries; its start is an ISO string on the wire, epoch ms once charted. */
export type LatencyPoint = Omit<TimeseriesPointAnswer, 't'> & { t: string | number };
export type SlowInteraction = SlowInteractionAnswer;
export type Bottleneck = BottleneckAnswer;
