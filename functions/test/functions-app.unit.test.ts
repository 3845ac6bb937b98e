import { HttpRequest } from '@azure/functions';
import { httpRouteSpecs } from '../src/routes';
import { loadFunctionsSettings } from '../src/settings';
import { loadFunctionsApp, type RecordedHttpFunction } from './azure-registrations';
import { anInvocationContext } from './http-fixtures';

function freshApp(): RecordedHttpFunction[] {
  let recorded: RecordedHttpFunction[] = [];
  jest.isolateModules(() => {
    recorded = loadFunctionsApp();
  });
  return recorded;
}

afterEach(() => jest.restoreAllMocks());

describe('the Azure Functions app', () => {
  it('registers exactly the route table, one Function per route, anonymous (the API key is checked by the handlers)', () => {
    const recorded = freshApp();
    expect(recorded.map(({ name, methods, route, authLevel }) => ({ name, methods, route, authLevel })).sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      httpRouteSpecs
        .map(({ name, methods, route }) => ({ name, methods: [...methods], route, authLevel: 'anonymous' }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect(recorded.every((fn) => typeof fn.handler === 'function')).toBe(true);
  });

  it('answers 503 and logs what to set when the Azure settings are missing', async () => {
    const saved = { ...process.env };
    delete process.env.KM_STORAGE;
    try {
      const ingest = freshApp().find((fn) => fn.name === 'ingest')!;
      const context = anInvocationContext('ingest');
      const response = await ingest.handler(new HttpRequest({ method: 'POST', url: 'http://localhost/api/ingest', body: { string: '{}' } }), context);
      expect(response).toMatchObject({ status: 503, jsonBody: { error: expect.stringContaining('not configured') } });
      expect(context.logged.join('\n')).toMatch(/KM_STORAGE=sqlite and KM_HOME/);
    } finally {
      process.env = saved;
    }
  });
});

describe('loadFunctionsSettings', () => {
  it('defaults to azure storage and parses key hashes', () => {
    const hash = 'a'.repeat(64);
    expect(loadFunctionsSettings({ KM_API_KEY_HASHES: `${hash}:org-a, ${'B'.repeat(64)}:org-b` })).toEqual({
      storage: 'azure',
      home: undefined,
      apiKeys: [
        { keyHash: hash, orgId: 'org-a' },
        { keyHash: 'b'.repeat(64), orgId: 'org-b' },
      ],
      maxIngestBytes: undefined,
      trustSwaPrincipal: false,
      signUp: 'invitation',
    });
  });

  it('names every bad setting', () => {
    expect(() => loadFunctionsSettings({ KM_STORAGE: 'sqlite', KM_API_KEY_HASHES: 'plain-key:org' })).toThrow(
      /KM_HOME[\s\S]*sha256|sha256[\s\S]*KM_HOME/,
    );
    expect(() => loadFunctionsSettings({ KM_STORAGE: 'mongo' })).toThrow(/KM_STORAGE/);
  });
});
