import { parseInvocation } from '../src/invocation';

describe('what km <words> means', () => {
  it('runs km commands, and wraps anything else when stdin is a pipe', () => {
    expect(parseInvocation(['status'])).toEqual({ kind: 'program', argv: ['status'] });
    expect(parseInvocation(['init', '--dry-run'])).toEqual({ kind: 'program', argv: ['init', '--dry-run'] });
    expect(parseInvocation(['npx', '-y', 'server'])).toEqual({ kind: 'wrap', command: 'npx', args: ['-y', 'server'] });
    expect(parseInvocation(['--name', 'fs', '--', 'init', '--x'])).toEqual({ kind: 'wrap', command: 'init', args: ['--x'], name: 'fs' });
  });

  it.each([['proxy'], ['export'], ['audit']])('never runs the reserved word %s as a server', (word) => {
    const invocation = parseInvocation([word]);
    expect(invocation).toEqual({ kind: 'usage-error', message: expect.stringContaining(`km -- ${word}`) });
    expect(parseInvocation(['--project', 'p', word])).toMatchObject({ kind: 'usage-error' });
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
