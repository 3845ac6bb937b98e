import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFunctionsApp, type RecordedHttpFunction } from './azure-registrations';
import { aSessionOfEvents, anEnvelope } from './fixtures';
import { anInvocationContext } from './http-fixtures';

/** The registered Functions with KM_STORAGE=sqlite: what `func start` runs today, before the cloud adapters exist. */
describe('the Functions app on KM_STORAGE=sqlite', () => {
  const saved = { ...process.env };
  let home: string;
  let functions: RecordedHttpFunction[] = [];
  let closeCloudPorts: () => Promise<void>;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'km-func-'));
    process.env.KM_STORAGE = 'sqlite';
    process.env.KM_HOME = home;
    jest.isolateModules(() => {
      functions = loadFunctionsApp();
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      closeCloudPorts = (require('../src/cloud-ports') as typeof import('../src/cloud-ports')).closeCloudPorts;
    });
  });

  afterAll(async () => {
    await closeCloudPorts();
    process.env = saved;
    jest.restoreAllMocks();
    rmSync(home, { recursive: true, force: true });
  });

  /** Our handlers always answer an HttpResponseInit (never the HttpResponse class the type also allows). */
  const call = async (name: string, init: ConstructorParameters<typeof HttpRequest>[0]) =>
    (await functions.find((fn) => fn.name === name)!.handler(new HttpRequest(init), anInvocationContext(name))) as HttpResponseInit;

  it('ingests with the key from KM_HOME/api-key, projects in-process, and serves the session; no key is 401', async () => {
    // The first call builds the ports, which makes KM_HOME/api-key if neither km serve nor a call made it before.
    const anonymous = await call('query-sessions', { method: 'GET', url: 'http://localhost:7071/api/sessions' });
    expect(anonymous.status).toBe(401);
    const key = readFileSync(join(home, 'api-key'), 'utf8').trim();
    const events = aSessionOfEvents(anEnvelope({ orgId: 'local', sessionId: 'func-session' }), '2026-07-01T10:00:00.000Z', 2);
    // The registered Function applies the route table's rules too: a body not labelled JSON is a 415.
    const asText = await call('ingest', {
      method: 'POST',
      url: 'http://localhost:7071/api/ingest',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain;charset=UTF-8' },
      body: { string: JSON.stringify({ events }) },
    });
    expect(asText).toMatchObject({ status: 415, jsonBody: { expected: 'application/json' } });
    const ingest = await call('ingest', {
      method: 'POST',
      url: 'http://localhost:7071/api/ingest',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: { string: JSON.stringify({ events }) },
    });
    expect(ingest).toMatchObject({ status: 202, jsonBody: { accepted: 4 } });

    const deadline = Date.now() + 10_000;
    let interactions;
    do {
      interactions = await call('query-session-interactions', {
        method: 'GET',
        url: 'http://localhost:7071/api/sessions/func-session/interactions',
        headers: { authorization: `Bearer ${key}` },
        params: { id: 'func-session' },
      });
      if (interactions.status === 200 && interactions.jsonBody.interactions.length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    } while (Date.now() < deadline);
    expect(interactions).toMatchObject({ status: 200, jsonBody: { sessionId: 'func-session', interactions: [{}, {}] } });

  });
});
