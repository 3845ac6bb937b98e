import { BudgetBodySchema, newEventId, type BudgetScope, type StoredServerEvent } from '@km/shared';
import { describeError } from '../logger';
import type { Authenticator, EventLog } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { nameParam } from './query-params';
import { readJsonBody } from './request-body';

export interface SetBudgetDeps {
  eventLog: EventLog;
  authenticator: Authenticator;
  now: () => Date;
  onEventsAppended?: () => void;
}

const MAX_BUDGET_BODY_BYTES = 16 * 1024;

/**
 * PUT /api/budgets/org and PUT /api/budgets/project/{projectId}, body { monthlyUsd, webhookUrl? }: appends a
 * server-made budget.set event. The budget itself is a fold of these (the cost projection), like every read model.
 */
export function makeSetBudgetHandler(scope: BudgetScope) {
  return (deps: SetBudgetDeps): HttpHandler =>
    withUnexpectedErrorsAs500(async (request, context) => {
      const auth = await authenticateRequest(deps.authenticator, request);
      if ('response' in auth) return auth.response;

      let projectId: string | null = null;
      if (scope === 'project') {
        const param = nameParam(request.params.projectId ?? '', 'the project id');
        if ('error' in param) return errorResponse(400, param.error);
        projectId = param.value ?? null;
      }
      const read = await readJsonBody(request, MAX_BUDGET_BODY_BYTES);
      if ('response' in read) return read.response;
      const body = BudgetBodySchema.safeParse(read.body);
      if (!body.success) {
        const issues = body.error.issues.map((issue) => ({ path: issue.path.join('.') || '(body)', message: issue.message }));
        const first = issues[0]!;
        return errorResponse(400, `${first.path}: ${first.message}. Send {"monthlyUsd": 50, "webhookUrl": "https://..."} (webhookUrl optional).`, { issues });
      }

      const now = deps.now();
      const event: StoredServerEvent = {
        id: newEventId(now.getTime()),
        v: 1,
        type: 'budget.set',
        ts: now.toISOString(),
        orgId: auth.caller.orgId,
        scope,
        projectId,
        monthlyUsd: body.data.monthlyUsd,
        webhookUrl: body.data.webhookUrl ?? null,
        receivedAt: now.toISOString(),
        batchId: `api:${scope}-budget`,
      };
      try {
        await deps.eventLog.append([event]);
      } catch (error) {
        context.error(`set budget: appending ${event.id} failed: ${describeError(error)}`);
        return errorResponse(503, 'the event log is unavailable right now: retry later.', {}, { 'Retry-After': '5' });
      }
      deps.onEventsAppended?.();
      const { receivedAt: _r, batchId: _b, ...budget } = event;
      return jsonResponse(202, { accepted: true, event: budget });
    });
}
