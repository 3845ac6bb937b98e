import { readFileSync } from 'node:fs';
import { Spool } from '../src/spool';
import { Recorder } from '../src/wrap/recorder';
import { silent, tempHome } from './helpers';

/** The recorder's last pass: whatever field of a draft carries a secret, the spool never holds it. */
describe('Recorder redaction', () => {
  it('redacts a wire string in a field no-one redacted where it was read (a policy block), and keeps the envelope', () => {
    const spool = new Spool(tempHome(), 1_000_000, silent);
    const recorder = new Recorder(spool);
    const key = ['ghp_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A'].join('');
    recorder.setEnvelope({ orgId: 'o', projectId: 'p', userId: 'jane@example.com', machineId: 'm', sessionId: 's', server: { name: 'x', command: 'x' } });
    recorder.record({
      id: '0190f3a2-7c1d-7e4b-9a6f-2b3c4d5e6f70',
      v: 1,
      ts: '2026-12-03T07:00:00.000Z',
      type: 'policy.blocked',
      method: 'tools/call',
      target: `deploy ${key}`,
      ruleId: 'policy-deny-tool',
      reason: `tool "deploy ${key}" is denied`,
    });
    const text = readFileSync(spool.own.path, 'utf8');
    expect(text).not.toContain(key);
    const [event] = text.trim().split('\n').map((line) => JSON.parse(line));
    expect(event).toMatchObject({ type: 'policy.blocked', target: 'deploy [REDACTED:github-token]', userId: 'jane@example.com', id: '0190f3a2-7c1d-7e4b-9a6f-2b3c4d5e6f70' });
  });
});
