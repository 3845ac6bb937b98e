import { otelTarget } from '../src/wrap/otel-plugin';

describe('where km exports OpenTelemetry to', () => {
  const file = (otlp: unknown) => ({ dir: '/p', config: { project: 'p', otlp }, problem: null }) as never;

  it('takes KM_OTLP_ENDPOINT and KM_OTLP_HEADERS, or km.json otlp (a URL or { endpoint, headers })', () => {
    expect(otelTarget({ KM_OTLP_ENDPOINT: 'http://c:4318', KM_OTLP_HEADERS: 'a=1, b=x%3Dy' }, null)).toEqual({ endpoint: 'http://c:4318', headers: { a: '1', b: 'x=y' } });
    expect(otelTarget({}, file('https://otel.example.com'))).toEqual({ endpoint: 'https://otel.example.com', headers: {} });
    expect(otelTarget({}, file({ endpoint: 'https://o', headers: { k: 'v', n: 1 } }))).toEqual({ endpoint: 'https://o', headers: { k: 'v' } });
    expect(otelTarget({ KM_OTLP_ENDPOINT: 'http://env' }, file('https://file'))!.endpoint).toBe('http://env');
  });

  it('exports nothing without an http(s) endpoint', () => {
    expect(otelTarget({}, null)).toBeNull();
    expect(otelTarget({ KM_OTLP_ENDPOINT: 'localhost:4318' }, null)).toBeNull();
    expect(otelTarget({}, file(42))).toBeNull();
  });
});
