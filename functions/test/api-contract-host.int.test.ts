import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedHost } from '../src/host/embedded-host';
import type { Logger } from '../src/logger';
import { askOverHttp, untilProjected, testApiContract } from './contracts/api.contract';

const quiet: Logger = { info() {}, warn() {}, error() {} };

/** The embedded host (km serve) in this process, over HTTP, on a fresh KM_HOME with real SQLite. */
testApiContract('the embedded host', async () => {
  const home = mkdtempSync(join(tmpdir(), 'km-contract-'));
  const host = await startEmbeddedHost({ home, port: 0, logger: quiet });
  const key = readFileSync(join(home, 'api-key'), 'utf8').trim();
  return {
    orgId: 'local',
    ask: (route, params, body) => askOverHttp(host.url, key, route, params, body),
    projected: (ready) => untilProjected(ready),
    async close() {
      await host.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
});
