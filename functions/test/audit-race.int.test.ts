import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRoutes, type LoggedEvent } from '@km/shared';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { orgEventsOfLog } from '../src/adapters/log-org-events';
import type { SqliteEventLog } from '../src/adapters/sqlite-event-log';
import { openEmbeddedStack } from '../src/host/embedded-stack';
import { writeHttpResponse } from '../src/host/node-http-bridge';
import type { OrgEventArchive } from '../src/ports';
import { setRetention, sweepRetention } from '../src/retention/retention';
import { httpRoutes } from '../src/routes';
import { askHandlers } from './contracts/api.contract';
import { anEnvelope, interaction, stored } from './fixtures';

const KEY = 'km_test_owner_key_of_org_x';
const quiet = { info() {}, warn() {}, error() {} };
const OLD = '2026-01-05T10:00:00.000Z';

describe('an audit export while a retention sweep cuts the log (real SQLite)', () => {
  it('is never signed: its stream fails, where it had ended with a signed head over misnumbered records', async () => {
    const home = mkdtempSync(join(tmpdir(), 'km-audit-race-'));
    const stack = openEmbeddedStack({ home, logger: quiet, projectorWorkerFile: null, additionalApiKeys: [{ keyHash: hashApiKey(KEY), orgId: 'org-x' }] });
    try {
      const log = stack.deps.eventLog as SqliteEventLog;
      for (let from = 0; from < 4500; from += 500) {
        await log.append(stored(Array.from({ length: 500 }, (_, i) => interaction(anEnvelope({ orgId: 'org-x' }), OLD, { requestId: String(from + i) })), `b-${from}`, OLD));
      }
      const settings = { store: stack.deps.readModelStore, append: async (events: LoggedEvent[]) => void (await log.append(events)), now: () => new Date(), newBatchId: () => 'settings' };
      await setRetention(settings, 'org-x', { rawEventDays: 30, previewDays: null }, 'test');
      // The sweep runs as the export reads its second page of the chain.
      const archive = orgEventsOfLog(log);
      let reads = 0;
      const racing: OrgEventArchive = { ...archive, readOrg: async (orgId, after, max) => ((++reads === 2 ? await sweepRetention(archive, stack.deps.readModelStore, new Date()) : null), archive.readOrg(orgId, after, max)) };
      const routes = httpRoutes({ ...stack.deps, orgEvents: racing });
      await expect(askHandlers(routes, KEY, apiRoutes.find((route) => route.name === 'audit')!, {})).rejects.toThrow('a retention sweep removed events of org org-x while its audit export was read');
      // Once the sweep is over, an export is whole and signed again.
      const lines = (await askHandlers(httpRoutes(stack.deps), KEY, apiRoutes.find((route) => route.name === 'audit')!, {})).body as Array<Record<string, unknown>>;
      expect(lines[0]).toMatchObject({ checkpoint: true, seq: 4500 });
      expect(lines.at(-1)).toMatchObject({ head: true });
    } finally {
      await stack.close();
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('a streamed answer that fails half way cuts the connection, so the client never takes it for a whole one', async () => {
    const server = createServer((_req, res) => {
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(new TextEncoder().encode('{"seq":1}\n'));
          controller.error(new Error('the export could not go on'));
        },
      });
      writeHttpResponse(res, { status: 200, headers: { 'content-type': 'application/x-ndjson' }, body: body as never }).catch(() => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      // Before or after the status line came (the first chunk may still be in the socket's buffer): it fails.
      const whole = fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`).then((response) => response.text());
      await expect(whole).rejects.toThrow();
    } finally {
      server.close();
    }
  });
});
