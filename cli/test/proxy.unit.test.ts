import { upstreamFor } from '../src/proxy/http-proxy';
import { jsonLine, SseMessages } from '../src/proxy/message-lines';

describe('km proxy: what it records of HTTP bodies, and where it forwards', () => {
  it('reads the messages of an event stream however it is cut, with CRLF and data over several lines', () => {
    const lines: string[] = [];
    const sse = new SseMessages((line) => lines.push(line.toString()));
    const stream = 'event: message\r\nid: 1\r\ndata: {"jsonrpc":"2.0",\r\ndata: "id":1,"result":{}}\r\n\r\n: comment\n\ndata:{"jsonrpc":"2.0","method":"notifications/progress"}\n\ndata: not json\n\n';
    for (let i = 0; i < stream.length; i += 7) sse.push(stream.slice(i, i + 7));
    sse.end();
    expect(lines).toEqual(['{"jsonrpc":"2.0","id":1,"result":{}}\n', '{"jsonrpc":"2.0","method":"notifications/progress"}\n']);
    expect(jsonLine('[{"a":1}, {"b":2}]')!.toString()).toBe('[{"a":1},{"b":2}]\n');
    expect(jsonLine('{')).toBeNull();
  });

  it('sends requests to the upstream endpoint, and discovery to the same path on its origin', () => {
    const upstream = new URL('https://api.example.com/v1/mcp?tenant=a');
    expect(upstreamFor(upstream, '/').href).toBe('https://api.example.com/v1/mcp?tenant=a');
    expect(upstreamFor(upstream, '/mcp?x=1').href).toBe('https://api.example.com/v1/mcp?tenant=a&x=1');
    expect(upstreamFor(upstream, '/.well-known/oauth-protected-resource/v1/mcp').href).toBe('https://api.example.com/.well-known/oauth-protected-resource/v1/mcp');
  });
});
