import { ApiError, newEventId, setOrgBudgetRoute, setProjectBudgetRoute, setTeamBudgetRoute, type BudgetScope, type StoredServerEvent } from '@km/shared';
import type { Authenticator, EventLog, ReadModelStore } from '../ports';
import { teamUsers } from '../teams/team-directory';
import { privateHostOf, privateWebhooksAllowed } from '../webhook-destination';
import { routeHandler } from './route-handler';
import { appendServerEvents } from './server-events';

export interface SetBudgetDeps {
  eventLog: EventLog;
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
  onEventsAppended?: () => void;
}

const routes = { org: setOrgBudgetRoute, project: setProjectBudgetRoute, team: setTeamBudgetRoute } as const;

/**
 * PUT /api/budgets/org, /api/budgets/project/{projectId} and /api/budgets/team/{teamId}, body { monthlyUsd,
 * webhookUrl? }: appends a server-made budget.set event. The budget itself is a fold of these (the cost projection),
 * like every read model. A team must be one of the org's (its spend is its users'), so another org's team is the
 * same 404 as a team nobody made.
 */
export function makeSetBudgetHandler(scope: BudgetScope) {
  return routeHandler(routes[scope], async (caller, input, deps: SetBudgetDeps, context) => {
    const teamId = 'teamId' in input ? input.teamId : undefined;
    if (teamId !== undefined) await teamUsers(deps.readModelStore, caller.orgId, teamId);
    // Refused now, not at the first threshold: a webhook km would never call must not be accepted (the notifier
    // also checks what a name resolves to, as it connects).
    const privateHost = input.body.webhookUrl && !privateWebhooksAllowed() ? privateHostOf(input.body.webhookUrl) : null;
    if (privateHost) throw new ApiError(400, `webhookUrl: ${privateHost}; km calls webhooks on public addresses only, unless the server is run with KM_WEBHOOK_ALLOW_PRIVATE=true`, { parameter: 'webhookUrl' });
    const now = deps.now();
    const event: StoredServerEvent = {
      id: newEventId(now.getTime()),
      v: 1,
      type: 'budget.set',
      ts: now.toISOString(),
      orgId: caller.orgId,
      scope,
      projectId: 'projectId' in input ? input.projectId : null,
      ...(teamId !== undefined ? { teamId } : {}),
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
