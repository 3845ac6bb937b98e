import { requireBuiltKm, runKm } from './e2e-support';
import { tempHome } from './helpers';

/** km with only PATH and a KM_HOME of its own: nothing here may reach a server. */
const km = (args: string[]) => runKm(args, { PATH: process.env.PATH ?? '', KM_HOME: tempHome('km-usage') });

describe('km exits 2 for arguments it cannot act on, whatever the command', () => {
  beforeAll(() => requireBuiltKm());

  it.each([
    [['budget', 'set', 'abc', '--org'], 'the budget must be a number of USD'],
    [['budget', 'set', '5'], 'say which budget'],
    [['login', '--endpoint', 'ftp://km.example.invalid', '--key', 'k'], '--endpoint must be an http(s) URL'],
    [['login', '--org', 'o', '--key', 'k'], 'drop --org'],
    [['flush', '--reassign-org'], '--reassign-org goes with --retry-refused'],
    [['members', 'invite', 'not a login'], 'is not a GitHub login'],
    [['init', '--dry-run', '--client', 'nope'], 'unknown client "nope"'],
    [['serve', '--port', 'seven'], 'a port is a number from 0 to 65535'],
    [['tail', '--bogus'], 'unknown option'],
    [['keys', 'create', '--org', 'Bad!'], '"Bad!" is not an org id'],
    [['audit', 'export', '--from', 'notadate'], 'from must be an ISO 8601 date-time'],
  ])('km %j', async (args, said) => {
    const result = await km(args);
    expect({ status: result.status, said: result.stderr.includes(said) }).toEqual({ status: 2, said: true });
  });
});
