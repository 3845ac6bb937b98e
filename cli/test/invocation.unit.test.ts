import { parseInvocation } from '../src/invocation';

describe('what km <words> means', () => {
  it('runs km commands, and wraps anything else when stdin is a pipe', () => {
    expect(parseInvocation(['status'])).toEqual({ kind: 'program', argv: ['status'] });
    expect(parseInvocation(['audit', 'verify', 'f'])).toEqual({ kind: 'program', argv: ['audit', 'verify', 'f'] });
    expect(parseInvocation(['init', '--dry-run'])).toEqual({ kind: 'program', argv: ['init', '--dry-run'] });
    expect(parseInvocation(['demo', '--port', '7000'])).toEqual({ kind: 'program', argv: ['demo', '--port', '7000'] });
    expect(parseInvocation(['npx', '-y', 'server'])).toEqual({ kind: 'wrap', command: 'npx', args: ['-y', 'server'] });
    expect(parseInvocation(['--name', 'fs', '--', 'init', '--x'])).toEqual({ kind: 'wrap', command: 'init', args: ['--x'], name: 'fs' });
  });

  it.each([['export'], ['logout']])('never runs the reserved word %s as a server', (word) => {
    const invocation = parseInvocation([word]);
    expect(invocation).toEqual({ kind: 'usage-error', message: expect.stringContaining(`km -- ${word}`) });
    expect(parseInvocation(['--project', 'p', word])).toMatchObject({ kind: 'usage-error' });
  });

  it('takes a remote server as --url with --header values, and refuses what cannot be one', () => {
    expect(parseInvocation(['--name', 'gh', '--url', 'https://api.example.com/mcp', '--header', 'Authorization: Bearer x', '--header=X-A: 1'])).toEqual({
      kind: 'wrap', command: 'https://api.example.com/mcp', args: [], url: 'https://api.example.com/mcp', headers: ['Authorization: Bearer x', 'X-A: 1'], name: 'gh',
    });
    expect(parseInvocation(['--url', 'ftp://x/mcp'])).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('http or https') });
    expect(parseInvocation(['--url', 'not a url'])).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('is not a URL') });
    expect(parseInvocation(['--url', 'https://x/mcp', 'npx'])).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('either a remote server or a stdio one') });
    expect(parseInvocation(['--url', 'https://x/mcp', '--header', 'no colon'])).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('is not "Name: value"') });
    expect(parseInvocation(['--header', 'A: b', 'npx'])).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('--header goes with --url') });
    expect(parseInvocation(['--url', 'https://x/mcp'], true)).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('stdin is a terminal') });
  });

  it("takes a remote server's headers from KM_HEADER_* too (what km init writes), after the --header ones, never naming a value", () => {
    const env = { KM_HEADER_2: 'X-B: 2', KM_HEADER_10: 'X-C: 3', KM_HEADER_1: 'Authorization: Bearer tok', KM_HEADERS: 'not one of them', PATH: '/bin' };
    expect(parseInvocation(['--url', 'https://x/mcp', '--header', 'X-A: 1'], false, env)).toMatchObject({ kind: 'wrap', headers: ['X-A: 1', 'Authorization: Bearer tok', 'X-B: 2', 'X-C: 3'] });
    // A stdio server does not take them: they are the remote's.
    expect(parseInvocation(['--', 'npx', 'srv'], false, env)).toEqual({ kind: 'wrap', command: 'npx', args: ['srv'] });
    const bad = parseInvocation(['--url', 'https://x/mcp'], false, { KM_HEADER_1: 'Bearer sekrit-token' });
    expect(bad).toEqual({ kind: 'usage-error', message: 'KM_HEADER_1 is not "Name: value" (a header for the remote server)' });
  });

  it('refuses a km command word placed after wrap flags without --', () => {
    expect(parseInvocation(['--project', 'p', 'serve'])).toEqual({ kind: 'usage-error', message: expect.stringContaining('"serve" is a km command (see km --help)') });
  });

  it('does not wrap when a person typed it at a terminal, and names the nearest command', () => {
    expect(parseInvocation(['statsu'], true)).toEqual({ kind: 'usage-error', message: expect.stringContaining('did you mean km status?') });
    const far = parseInvocation(['--', 'node', 'server.js'], true);
    expect(far).toEqual({ kind: 'usage-error', message: expect.stringContaining('stdin is a terminal') });
    expect(far).toEqual({ kind: 'usage-error', message: expect.not.stringContaining('did you mean') });
    expect(parseInvocation(['status'], true)).toEqual({ kind: 'program', argv: ['status'] });
  });
});
