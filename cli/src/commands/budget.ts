import { Command } from 'commander';
import { setOrgBudgetRoute, setProjectBudgetRoute } from '@km/shared';
import { callApi } from './api-client';

/** `km budget set 50 --project x` / `--org`: a monthly budget in USD, with an optional Slack/Teams webhook. */
export function budgetCommand(): Command {
  const budget = new Command('budget').description('Monthly spend budgets (USD) for the org or a project');
  budget
    .command('set')
    .description('Set a monthly budget: km budget set 50 --project my-app [--webhook https://hooks.slack.com/...]')
    .argument('<monthlyUsd>', 'the budget in USD per calendar month (UTC)')
    .option('--project <projectId>', 'the project the budget applies to')
    .option('--org', 'the budget applies to the whole org')
    .option('--webhook <url>', 'called at 50, 80 and 100 percent (Slack- and Teams-compatible JSON)')
    .action(async (amount: string, options: { project?: string; org?: boolean; webhook?: string }) => {
      const monthlyUsd = Number(amount);
      if (!/^\d+(\.\d+)?$/.test(amount) || !Number.isFinite(monthlyUsd)) throw new Error(`the budget must be a number of USD like 50 or 12.5, got "${amount}"`);
      if (Boolean(options.project) === Boolean(options.org)) throw new Error('say which budget: --project <id> or --org (one of them)');
      const body = { monthlyUsd, ...(options.webhook ? { webhookUrl: options.webhook } : {}) };
      if (options.org) await callApi(setOrgBudgetRoute, { body });
      else await callApi(setProjectBudgetRoute, { request: { projectId: options.project! }, body });
      const scope = options.org ? 'the org' : `project ${options.project}`;
      process.stdout.write(`budget for ${scope}: $${monthlyUsd} a month${options.webhook ? `, webhook ${options.webhook}` : ''}\n`);
    });
  return budget;
}
