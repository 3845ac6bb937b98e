import { Command } from 'commander';
import { setOrgBudgetRoute, setProjectBudgetRoute, setTeamBudgetRoute, TeamIdSchema } from '@km/shared';
import { callApi } from './api-client';
import { UsageError } from '../usage-error';

/** `km budget set 50 --project x` / `--team t` / `--org`: a monthly budget in USD, with an optional Slack/Teams webhook. */
export function budgetCommand(): Command {
  const budget = new Command('budget').description('Monthly spend budgets (USD) for the org, a project or a team');
  budget
    .command('set')
    .description('Set a monthly budget: km budget set 50 --project my-app [--webhook https://hooks.slack.com/...]')
    .argument('<monthlyUsd>', 'the budget in USD per calendar month (UTC)')
    .option('--project <projectId>', 'the project the budget applies to')
    .option('--team <teamId>', "the team the budget applies to (its users' spend; see km's GET /api/teams)")
    .option('--org', 'the budget applies to the whole org')
    .option('--webhook <url>', 'called at 50, 80 and 100 percent (Slack- and Teams-compatible JSON)')
    .action(async (amount: string, options: { project?: string; team?: string; org?: boolean; webhook?: string }) => {
      const monthlyUsd = Number(amount);
      if (!/^\d+(\.\d+)?$/.test(amount) || !Number.isFinite(monthlyUsd)) throw new UsageError(`the budget must be a number of USD like 50 or 12.5, got "${amount}"`);
      if (monthlyUsd <= 0) throw new UsageError('the budget must be more than 0 USD a month: no spend crosses a share of 0, so it would never alert');
      if ([options.project, options.team, options.org].filter(Boolean).length !== 1) throw new UsageError('say which budget: --project <id>, --team <id> or --org (one of them)');
      if (options.team !== undefined && !TeamIdSchema.safeParse(options.team).success) throw new UsageError(`"${options.team}" is not a team id: lowercase letters, digits, ".", "_" and "-", up to 63`);
      const body = { monthlyUsd, ...(options.webhook ? { webhookUrl: options.webhook } : {}) };
      if (options.org) await callApi(setOrgBudgetRoute, { body });
      else if (options.team !== undefined) await callApi(setTeamBudgetRoute, { request: { teamId: options.team }, body });
      else await callApi(setProjectBudgetRoute, { request: { projectId: options.project! }, body });
      const scope = options.org ? 'the org' : options.team !== undefined ? `team ${options.team}` : `project ${options.project}`;
      process.stdout.write(`budget for ${scope}: $${monthlyUsd} a month${options.webhook ? `, webhook ${options.webhook}` : ''}\n`);
    });
  return budget;
}
