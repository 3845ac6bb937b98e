import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { startEmbeddedHost } from '../src/host/embedded-host';
import type { Logger } from '../src/logger';
import { answerBody, urlOf } from './contracts/api.contract';
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
    async ask(key, route, params = {}, body) {
      const response = await fetch(host.url + urlOf(route, params).url, {
        method: route.method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: answerBody(response.headers.get('content-type'), await response.text()) };
    },
    async projected(ready) {
      const deadline = Date.now() + 60_000;
      while (!(await ready())) {
        if (Date.now() > deadline) throw new Error('the embedded host did not project the seeded events');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async close() {
      await host.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
});
