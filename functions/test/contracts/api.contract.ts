import { apiRoutes, createKeyRoute, ingestRoute, routeUrl, type ApiRoute, type KmEvent } from '@km/shared';
import { z } from 'zod';
import { anEnvelope, interaction, sessionEnded, sessionStarted } from '../fixtures';
import { anHttpRequest, anInvocationContext, bearer } from '../http-fixtures';

/** An answer as a test reads it. */
export interface ApiAnswer {
  status: number;
  body: any;
}

/** One way to reach the API: the embedded host over HTTP, or the route table's handlers in process. */
/** Path and query parameters as text; a query parameter with a list is given once per value. */
export type AskParams = Record<string, string | readonly string[]>;

export interface ApiUnderTest {
  /** Calls the route with these path and query parameters (as text) and, for a route with a body, that JSON body. */
  ask(route: ApiRoute, params: AskParams, body?: unknown): Promise<ApiAnswer>;
  /** Resolves once every read model holds what was ingested (the embedded host projects on its own loop). */
  projected(ready: () => Promise<boolean>): Promise<void>;
  /** The org the API takes the caller for. */
  orgId: string;
  close(): Promise<void>;
}

/**
 * A value each parameter name refuses, whatever route declares it: a name 201 characters long, a limit of 0, a date
 * that does not exist, a word outside its enum, a cursor longer than 2000 characters. A route's refused filters
 * refuse any value, these included. A parameter added to the contract without an entry here fails the suite.
 */
const LONG_NAME = 'x'.repeat(201);
const BAD_VALUES: Readonly<Record<string, string>> = {
  id: LONG_NAME,
  projectId: LONG_NAME,
  userId: LONG_NAME,
  server: LONG_NAME,
  tool: LONG_NAME,
  sessionId: LONG_NAME,
  limit: '0',
  from: '2026-02-30',
  to: '2026-02-30',
  groupBy: 'weekday',
  bucket: 'minute',
  severity: 'dire',
  status: 'forgotten',
  kind: 'rumour',
  after: 'x'.repeat(2001),
  keyId: LONG_NAME,
  teamId: LONG_NAME,
  login: '-not-a-login-',
  format: 'xml',
  revokeKeys: 'yes',
};

/** The seeded secret's finding (the seeded events make anomaly findings too: a first use of a server, ...). */
const secretIn = (answer: { findings?: Array<{ id: string; kind: string }> }) => answer.findings?.find((finding) => finding.kind === 'secret');

/**
 * A value each parameter name takes, with what else the route needs for it (latency honours a tool filter when
 * grouped by tool). Refused filters have none.
 */
function goodValues(seed: { sessionId: string; cursor: string }): Readonly<Record<string, Record<string, string>>> {
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
  const single = { teamId: 'core', format: 'csv', projectId: 'web', userId: 'ann', server: 'everything', sessionId: seed.sessionId, limit: '5', from: twoDaysAgo, to: new Date().toISOString(), bucket: 'day', severity: 'critical', status: 'open', kind: 'secret', after: seed.cursor, revokeKeys: 'true' };
  return { ...Object.fromEntries(Object.entries(single).map(([name, value]) => [name, { [name]: value }])), tool: { tool: 'echo' }, groupBy: { groupBy: 'tool' } };
}
/** Where a route takes a parameter only with another one. */
const GOOD_WITH: Readonly<Record<string, Record<string, Record<string, string>>>> = {
  latency: { tool: { groupBy: 'tool', tool: 'echo' } },
  cost: { groupBy: { groupBy: 'project' } },
};
const isRefused = (route: ApiRoute, param: string) => route.query.shape[param]?.description?.startsWith('refused:') === true;

const declaredParams = (route: ApiRoute) => [...Object.keys(route.pathParams.shape), ...Object.keys(route.query.shape)];

/**
 * The contract (shared/src/api) route by route, table-driven over apiRoutes: a good request is answered with the
 * route's status and an answer its schema parses, and so is one with each parameter it honours given a good value;
 * an unknown query parameter is a 400 naming it; each declared parameter given a bad value is a 400 (naming it, for
 * query parameters). Events are seeded through ingest.
 */
export function testApiContract(name: string, makeApi: () => Promise<ApiUnderTest>): void {
  describe(`the API contract, on ${name}`, () => {
    let api: ApiUnderTest;
    let sessionId: string;
    let findingId: string;
    let events: KmEvent[];
    let cursor: string;
    let keyId: string;

    beforeAll(async () => {
      api = await makeApi();
      const envelope = anEnvelope({ orgId: api.orgId, projectId: 'web', userId: 'ann' });
      sessionId = envelope.sessionId;
      const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
      events = [
        sessionStarted(envelope, at(10)),
        interaction(envelope, at(9), { requestId: '1', costUsd: 0.02 }),
        interaction(envelope, at(8), { requestId: '2', outcome: 'tool_error', findings: [{ ruleId: 'aws-access-key-id', severity: 'critical', path: '$.params.arguments.key' }] }),
        sessionEnded(envelope, at(7)),
      ];
      const ingested = await api.ask(ingestRoute, {}, { events });
      expect(ingested.status).toBe(202);
      expect(ingestRoute.answer.parse(ingested.body)).toMatchObject({ accepted: events.length });
      const findings = apiRoutes.find((route) => route.path === 'risk/findings')!;
      await api.projected(async () => {
        const [session, listed] = await Promise.all([api.ask(apiRoutes.find((r) => r.path === 'sessions/{id}')!, { id: sessionId }), api.ask(findings, {})]);
        return session.status === 200 && session.body.endedAt !== null && secretIn(listed.body) !== undefined;
      });
      findingId = secretIn((await api.ask(findings, {})).body)!.id;
      cursor = (await api.ask(apiRoutes.find((r) => r.path === 'interactions/recent')!, { limit: '1' })).body.cursor;
      keyId = (await api.ask(createKeyRoute, {}, { role: 'viewer', label: 'contract' })).body.apiKey.keyId;
      expect((await api.ask(apiRoutes.find((r) => r.name === 'setTeam')!, { teamId: 'core' }, { name: 'Core', userIds: ['ann'] })).status).toBe(200);
    });
    afterAll(async () => {
      await api?.close();
    });

    /** What a route's good request needs first: the removal route removes its member, so each of its requests invites them (again). */
    const ready = async (route: ApiRoute) => {
      if (route.name === 'removeMember') expect((await api.ask(apiRoutes.find((r) => r.name === 'inviteMember')!, {}, { login: 'leaver', role: 'member' })).status).toBe(200);
    };

    /** A request each route answers: its path parameters from the seeded events, and a body where it takes one. */
    const goodRequest = (route: ApiRoute): { params: Record<string, string>; body?: unknown } => {
      const params: Record<string, string> = {};
      for (const param of Object.keys(route.pathParams.shape)) params[param] = param === 'projectId' ? 'web' : param === 'keyId' ? keyId : param === 'teamId' ? 'core' : param === 'login' ? 'leaver' : route.path.startsWith('sessions') ? sessionId : findingId;
      // Ingest answers the seeded events again as duplicates: 202 all the same.
      if (route === ingestRoute) return { params, body: { events } };
      return route.body ? { params, body: route.bodyExample } : { params };
    };

    it('has a bad value for every parameter the contract declares', () => {
      const missing = apiRoutes.flatMap((route) => declaredParams(route).filter((param) => !(param in BAD_VALUES)).map((param) => `${route.path} ${param}`));
      expect(missing).toEqual([]);
    });

    describe.each(apiRoutes.map((route) => [`${route.method} /api/${route.path}`, route] as const))('%s', (_, route) => {
      it("answers a good request with its status and an answer its schema parses", async () => {
        await ready(route);
        const { params, body } = goodRequest(route);
        const answer = await api.ask(route, params, body);
        expect({ status: answer.status, error: answer.body?.error }).toEqual({ status: route.status, error: undefined });
        const parsed = (route.streams ? z.array(route.answer).min(1) : route.answer).safeParse(answer.body);
        expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
      });

      const once = Object.keys(route.query.shape).find((param) => !isRefused(route, param));
      if (once) it(`refuses ${once} given twice with a 400 naming it (one of the two would be ignored)`, async () => {
        const { params, body } = goodRequest(route);
        const given = GOOD_WITH[route.path]?.[once] ?? goodValues({ sessionId, cursor })[once]!;
        const value = String(given[once]);
        const answer = await api.ask(route, { ...params, ...given, [once]: [value, value] }, body);
        expect({ status: answer.status, error: answer.body?.error }).toEqual({ status: 400, error: expect.stringContaining(`"${once}" is given twice`) });
      });

      if (!route.body && route.method !== 'GET') it('refuses a body it does not take with a 400 (it would be ignored)', async () => {
        const { params } = goodRequest(route);
        const answer = await api.ask(route, params, { note: 'x' });
        expect({ status: answer.status, error: answer.body?.error }).toEqual({ status: 400, error: expect.stringContaining('takes no body') });
      });

      it('refuses an unknown parameter with a 400 naming it', async () => {
        const { params, body } = goodRequest(route);
        const answer = await api.ask(route, { ...params, colour: 'blue' }, body);
        expect(answer.status).toBe(400);
        expect(answer.body.error).toContain('"colour"');
      });

      const honoured = Object.keys(route.query.shape).filter((param) => !isRefused(route, param));
      if (honoured.length) it.each(honoured)('takes a good %s, and its answer parses', async (param) => {
        const { params, body } = goodRequest(route);
        const given = GOOD_WITH[route.path]?.[param] ?? goodValues({ sessionId, cursor })[param]!;
        expect(given).toBeDefined();
        await ready(route);
        const answer = await api.ask(route, { ...params, ...given }, body);
        expect({ given, status: answer.status, error: answer.body?.error }).toEqual({ given, status: route.status, error: undefined });
        const parsed = (route.streams && typeof answer.body !== 'string' ? z.array(route.answer) : route.streams ? z.string() : route.answer).safeParse(answer.body);
        expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
      });

      const declared = declaredParams(route);
      if (declared.length) it.each(declared)('refuses a bad %s with a 400', async (param) => {
        const { params, body } = goodRequest(route);
        const answer = await api.ask(route, { ...params, [param]: BAD_VALUES[param]! }, body);
        expect({ param, status: answer.status }).toEqual({ param, status: 400 });
        if (param in route.query.shape) expect(answer.body.error).toContain(param);
      });
    });
  });
}

/** An answer's body as a test reads it: JSON, ndjson as the list of its lines' values, csv as text. */
/** Waits until the embedded host's projector loop (which runs on its own) has folded what ready() looks for. */
export async function untilProjected(ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error('the embedded host did not project the seeded events');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function answerBody(contentType: string | null, text: string): any {
  if (contentType?.includes('ndjson')) return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
  if (contentType?.includes('csv')) return text;
  return text === '' ? undefined : JSON.parse(text);
}

/** What a handler answered, read as the host would send it (a streamed body read to its end). */
export async function handlerAnswer(response: { status?: number; jsonBody?: unknown; body?: unknown; headers?: unknown }): Promise<ApiAnswer> {
  if (response.body instanceof ReadableStream) {
    const contentType = (response.headers as Record<string, string> | undefined)?.['content-type'] ?? null;
    return { status: response.status ?? 200, body: answerBody(contentType, await new Response(response.body).text()) };
  }
  return { status: response.status ?? 200, body: response.jsonBody };
}

/** A route asked over HTTP with a key, as a client would (the embedded host). */
export async function askOverHttp(baseUrl: string, key: string, route: ApiRoute, params: AskParams, body?: unknown): Promise<ApiAnswer> {
  const response = await fetch(baseUrl + urlOf(route, params).url, {
    method: route.method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: answerBody(response.headers.get('content-type'), await response.text()) };
}

/** A route asked of the route table's handlers in process, as the Functions host calls them (Azure's HttpRequest). */
export async function askHandlers(routes: ReadonlyArray<{ name: string; handler: (request: any, context: any) => Promise<any> }>, key: string, route: ApiRoute, params: AskParams, body?: unknown): Promise<ApiAnswer> {
  const { url, pathParams } = urlOf(route, params);
  const handler = routes.find((candidate) => candidate.name === route.name)!.handler;
  const headers = { ...bearer(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
  const request = anHttpRequest({ method: route.method, path: url, headers, params: pathParams, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return handlerAnswer(await handler(request, anInvocationContext(route.name)));
}

/** The URL of a route with these parameters, and the path parameters on their own (the Functions host's request.params). */
export function urlOf(route: ApiRoute, params: AskParams): { url: string; pathParams: Record<string, string> } {
  const single = Object.fromEntries(Object.entries(params).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  const pathParams = Object.fromEntries(Object.keys(route.pathParams.shape).map((name) => [name, single[name]!]));
  const repeated = Object.entries(params).flatMap(([name, values]) => (typeof values === 'string' ? [] : values.map((value) => [name, value])));
  const url = routeUrl(route.path, single);
  if (repeated.length === 0) return { url, pathParams };
  return { url: `${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(repeated).toString()}`, pathParams };
}
