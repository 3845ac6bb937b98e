import { newEventId, setOrgBudgetRoute, setProjectBudgetRoute, type BudgetScope, type StoredServerEvent } from '@km/shared';
import type { Authenticator, EventLog } from '../ports';
import { routeHandler } from './route-handler';
import { appendServerEvents } from './server-events';

export interface SetBudgetDeps {
  eventLog: EventLog;
  authenticator: Authenticator;
  now: () => Date;
  onEventsAppended?: () => void;
}

/**
 * PUT /api/budgets/org and PUT /api/budgets/project/{projectId}, body { monthlyUsd, webhookUrl? }: appends a
 * server-made budget.set event. The budget itself is a fold of these (the cost projection), like every read model.
 */
export function makeSetBudgetHandler(scope: BudgetScope) {
  const route = scope === 'org' ? setOrgBudgetRoute : setProjectBudgetRoute;
  return routeHandler(route, async (caller, input, deps: SetBudgetDeps, context) => {
    const now = deps.now();
    const event: StoredServerEvent = {
      id: newEventId(now.getTime()),
      v: 1,
      type: 'budget.set',
      ts: now.toISOString(),
      orgId: caller.orgId,
      scope,
      projectId: 'projectId' in input ? input.projectId : null,
      monthlyUsd: input.body.monthlyUsd,
      webhookUrl: input.body.webhookUrl ?? null,
      actor: caller.actor,
      receivedAt: now.toISOString(),
      batchId: `api:${scope}-budget`,
    };
    await appendServerEvents(deps, [event], context);
    const { receivedAt: _r, batchId: _b, ...budget } = event;
    return { accepted: true as const, event: budget };
  });
}
