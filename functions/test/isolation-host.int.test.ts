import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { startEmbeddedHost } from '../src/host/embedded-host';
import type { Logger } from '../src/logger';
import { askOverHttp, untilProjected } from './contracts/api.contract';
import { testTenantIsolation } from './contracts/isolation.contract';

const quiet: Logger = { info() {}, warn() {}, error() {} };

/** The embedded host (km serve) over HTTP on real SQLite, with two orgs' owner keys. */
testTenantIsolation('the embedded host', async () => {
  const home = mkdtempSync(join(tmpdir(), 'km-isolation-'));
  const [ownerKeyA, ownerKeyB] = ['km_test_owner_of_org_a', 'km_test_owner_of_org_b'];
  const host = await startEmbeddedHost({
    home,
    port: 0,
    logger: quiet,
    additionalApiKeys: [
      { keyHash: hashApiKey(ownerKeyA), orgId: 'org-a' },
      { keyHash: hashApiKey(ownerKeyB), orgId: 'org-b' },
    ],
  });
  return {
    ownerKeyA,
    ownerKeyB,
    ask: (key, route, params = {}, body) => askOverHttp(host.url, key, route, params, body),
    projected: (ready) => untilProjected(ready),
    async close() {
      await host.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
});
