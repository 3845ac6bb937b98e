import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { whoamiRoute } from '@km/shared';
import { callApi } from '../src/commands/api-client';
import { loadSettings, resolveTarget, runningTarget } from '../src/config/settings';
import { deadPid, tempHome } from './helpers';

describe('where km sends requests for a KM_HOME', () => {
  afterEach(() => jest.restoreAllMocks());

  it('names no endpoint while no km serve runs for it: no serve.json, or one a dead km serve left', async () => {
    const home = tempHome('km-target');
    writeFileSync(join(home, 'api-key'), 'km_live_this_homes_key\n');
    const fetched = jest.spyOn(globalThis, 'fetch');
    for (const serve of [null, { url: 'http://127.0.0.1:7790', pid: deadPid() }]) {
      if (serve) writeFileSync(join(home, 'serve.json'), JSON.stringify(serve));
      const settings = loadSettings({ KM_HOME: home });
      // A serve.json left behind is said as such: "no serve.json there" sent users looking for a file that was there.
      const why = serve ? 'its serve.json is of a km serve that is gone: it stopped without cleaning up (killed, or the machine restarted)' : 'no serve.json there';
      expect(resolveTarget(settings)).toMatchObject({ endpoint: 'http://127.0.0.1:7777', notRunning: `km serve is not running for ${home} (${why})` });
      expect(() => runningTarget(settings)).toThrow(/^km serve is not running for .*: start it with km serve, or km login to a shared stack$/);
      // The API commands (km tail, km keys, ...) ask nobody: another KM_HOME's km serve may listen on the default port.
      const previous = process.env.KM_HOME;
      process.env.KM_HOME = home;
      try {
        await expect(callApi(whoamiRoute)).rejects.toThrow(/km serve is not running/);
      } finally {
        if (previous === undefined) delete process.env.KM_HOME;
        else process.env.KM_HOME = previous;
      }
    }
    expect(fetched).not.toHaveBeenCalled();
  });

  it('names the running km serve of serve.json, and an explicit endpoint whatever runs', () => {
    const home = tempHome('km-target-running');
    writeFileSync(join(home, 'serve.json'), JSON.stringify({ url: 'http://127.0.0.1:7790', pid: process.pid }));
    expect(runningTarget(loadSettings({ KM_HOME: home }))).toMatchObject({ endpoint: 'http://127.0.0.1:7790' });
    const elsewhere = tempHome('km-target-explicit');
    expect(runningTarget(loadSettings({ KM_HOME: elsewhere, KM_ENDPOINT: 'https://km.example.com', KM_API_KEY: 'k' }))).toEqual({ endpoint: 'https://km.example.com', apiKey: 'k' });
  });
});
