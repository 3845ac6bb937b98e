import { headerValue, standardHeaders } from '../src/wrap/standard-headers';

describe('the 2026-07-28 standard headers km --url posts with', () => {
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };

  it('mirrors the method, the name or uri the method names, and the revision from _meta', () => {
    expect(standardHeaders(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'book', _meta: meta } }))).toEqual({ 'mcp-method': 'tools/call', 'mcp-name': 'book', 'mcp-protocol-version': '2026-07-28' });
    expect(standardHeaders(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'file:///a b' } }))).toEqual({ 'mcp-method': 'resources/read', 'mcp-name': 'file:///a b' });
    expect(standardHeaders(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'server/discover', params: { name: 'not a name field here', _meta: meta } }))).toEqual({ 'mcp-method': 'server/discover', 'mcp-protocol-version': '2026-07-28' });
  });

  it('adds nothing to a notification, a response, a batch or a body that is not JSON', () => {
    for (const body of [{ jsonrpc: '2.0', method: 'notifications/cancelled' }, { jsonrpc: '2.0', id: 1, result: {} }, [{ jsonrpc: '2.0', id: 1, method: 'ping' }]]) expect(standardHeaders(JSON.stringify(body))).toEqual({});
    expect(standardHeaders('grant_type=refresh_token')).toEqual({});
  });

  it('wraps a value a header cannot carry as it is in the base64 sentinel', () => {
    expect(headerValue('get_weather')).toBe('get_weather');
    expect(headerValue('tööl')).toBe(`=?base64?${Buffer.from('tööl').toString('base64')}?=`);
    expect(headerValue('a\r\nEvil: 1')).toBe(`=?base64?${Buffer.from('a\r\nEvil: 1').toString('base64')}?=`);
    expect(headerValue(' padded')).toMatch(/^=\?base64\?/);
    expect(headerValue('=?base64?abc?=')).toMatch(/^=\?base64\?PT9iYXNlNjQ/);
  });
});
