import { redactedCommandLine } from '../src/wrap/command-line';

describe('the server command line that goes into every event', () => {
  it('drops the values of secret-named flags and whatever the risk rules find, and keeps the rest readable', () => {
    const line = redactedCommandLine('npx', ['-y', '@modelcontextprotocol/server-postgres', 'postgresql://app:s3cret-pass@db.internal/app', '--password', 'hunter2hunter2', '--api-key=Zq8vK2mN4pR7sT1wX3yB6cD9fG', '--verbose']);
    expect(line).not.toMatch(/s3cret-pass|hunter2hunter2|Zq8vK2mN4pR7sT1wX3yB6cD9fG/);
    expect(line).toContain('npx -y @modelcontextprotocol/server-postgres');
    expect(line).toContain('--password [REDACTED:flag-value]');
    expect(line).toContain('--verbose');
  });

  it('leaves an ordinary command alone', () => {
    expect(redactedCommandLine('node', ['server.js', '--port', '3000', '/srv/data'])).toBe('node server.js --port 3000 /srv/data');
  });
});
