import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { costRoute, sessionRoute, setProjectBudgetRoute } from '@km/shared';
import { callApi } from '../src/commands/api-client';

/** A server that answers each request with the next canned answer and keeps what it was asked. */
async function cannedApi(answers: Array<{ status: number; body: unknown }>) {
  const asked: Array<{ method: string; url: string; body: string }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      asked.push({ method: req.method!, url: req.url!, body });
      const answer = answers.shift() ?? { status: 500, body: { error: 'no more answers' } };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const target = { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: 'k' };
  return { target, asked, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const figures = { costUsd: 1, tokensIn: 2, tokensOut: 3, interactions: 4 };

describe("the CLI's API client", () => {
  it("builds the route's URL and body from the contract and parses the answer with its schema", async () => {
    const api = await cannedApi([
      { status: 200, body: { from: '2026-11-01', to: '2026-11-25', groupBy: 'project', currency: 'USD', total: figures, groups: [{ key: 'web', ...figures }] } },
      { status: 202, body: { accepted: true, event: { type: 'budget.set' } } },
    ]);
    try {
      const report = await callApi(costRoute, { request: { groupBy: 'project', projectId: 'web' }, target: api.target });
      expect(report.groups).toEqual([{ key: 'web', ...figures }]);
      await callApi(setProjectBudgetRoute, { request: { projectId: 'my app' }, body: { monthlyUsd: 5 }, target: api.target });
      expect(api.asked).toEqual([
        { method: 'GET', url: '/api/cost?groupBy=project&projectId=web', body: '' },
        { method: 'PUT', url: '/api/budgets/project/my%20app', body: '{"monthlyUsd":5}' },
      ]);
    } finally {
      await api.close();
    }
  });

  it("says what the API refused, and refuses an answer that is not the route's", async () => {
    const api = await cannedApi([
      { status: 404, body: { error: 'no session "s"' } },
      { status: 200, body: { id: 's', sessions: 'not a session' } },
    ]);
    try {
      await expect(callApi(sessionRoute, { request: { id: 's' }, target: api.target })).rejects.toThrow('GET /api/sessions/s answered 404: no session "s"');
      await expect(callApi(sessionRoute, { request: { id: 's' }, target: api.target })).rejects.toThrow(/answered something this km does not read/);
    } finally {
      await api.close();
    }
  });

  it('names the endpoint when nothing answers', async () => {
    await expect(callApi(costRoute, { target: { endpoint: 'http://127.0.0.1:1', apiKey: null } })).rejects.toThrow(/nothing answered at http:\/\/127\.0\.0\.1:1 .*km serve/);
  });
});
