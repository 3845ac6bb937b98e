import { Command } from 'commander';
import { costRoute, costSummaryRoute, type CostFiguresAnswer } from '@km/shared';
import { callApi } from './api-client';

const usd = (value: number) => `$${value < 1 ? value.toFixed(4) : value.toFixed(2)}`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  ')).join('\n') + '\n';
}

const line = (label: string, figures: CostFiguresAnswer) => [label, usd(figures.costUsd), String(figures.tokensIn), String(figures.tokensOut), String(figures.interactions)];

/** `km report`: today's and this month's spend, and this month's top projects, as small tables. */
export function reportCommand(): Command {
  return new Command('report').description("Show today's and this month's estimated spend (from the km API)").action(async () => {
    const summary = await callApi(costSummaryRoute);
    const byProject = await callApi(costRoute, { request: { groupBy: 'project' } });
    process.stdout.write(
      table([
        ['', 'cost', 'tokens in', 'tokens out', 'calls'],
        line('today', summary.today),
        line('yesterday', summary.yesterday),
        line('month to date', summary.monthToDate),
        ['forecast (month end)', usd(summary.forecastMonthEnd), '', '', ''],
      ]),
    );
    if (byProject.groups.length > 0) {
      process.stdout.write('\n' + table([['project (this month)', 'cost', 'tokens in', 'tokens out', 'calls'], ...byProject.groups.slice(0, 10).map((g) => line(g.key, g))]));
    }
  });
}
