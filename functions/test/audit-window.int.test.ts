import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRoutes } from '@km/shared';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { verifyExport } from '../src/audit/audit-chain';
import { openEmbeddedStack, type EmbeddedStack } from '../src/host/embedded-stack';
import { httpRoutes } from '../src/routes';
import { askHandlers } from './contracts/api.contract';
import { anEnvelope, interaction, stored } from './fixtures';

const KEY = 'km_test_owner_key_of_org_w';
const quiet = { info() {}, warn() {}, error() {} };

describe('an audit export of a window over events appended out of order (real SQLite)', () => {
  let home: string;
  let stack: EmbeddedStack;
  const ask = (params: Record<string, string>) =>
    askHandlers(httpRoutes(stack.deps), KEY, apiRoutes.find((route) => route.name === 'audit')!, params).then((answer) => answer.body as Array<Record<string, unknown>>);
  // The log's order and the order the events were accepted in differ, as when two Azure instances append one org's events.
  const accepted = ['10:00', '10:02', '10:05', '10:02', '10:12', '10:03', '11:00', '10:03'].map((time) => `2026-03-01T${time}:00.000Z`);

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'km-audit-window-'));
    stack = openEmbeddedStack({ home, logger: quiet, projectorWorkerFile: null, additionalApiKeys: [{ keyHash: hashApiKey(KEY), orgId: 'org-w' }] });
    const mine = anEnvelope({ orgId: 'org-w' });
    for (const [i, at] of accepted.entries()) await stack.deps.eventLog.append(stored([interaction(mine, at, { requestId: String(i) })], `batch-${i}`, at));
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const seqsOf = (lines: Array<Record<string, unknown>>) => lines.filter((line) => line.seq !== undefined && !line.checkpoint).map((line) => line.seq);

  it('holds the records from the first accepted in the window to the last, with those appended between them, and verifies', async () => {
    const lines = await ask({ from: '2026-03-01T10:01:00.000Z', to: '2026-03-01T10:04:00.000Z' });
    // 2 (10:02) to 6 (10:03), with 3 (10:05) and 5 (10:12) between them. 7 (11:00) is past the window by more than
    // events are ever appended out of order: the window ends there, and 8 (10:03), after it, is not looked for.
    expect(seqsOf(lines)).toEqual([2, 3, 4, 5, 6]);
    expect(lines.at(-1)).toMatchObject({ head: true, count: 8, range: { firstSeq: 2, lastSeq: 6 } });
    expect(await verifyExport(lines.map((line) => JSON.stringify(line)), 'org-w')).toMatchObject({ ok: true, firstSeq: 2, lastSeq: 6 });
  });

  it('leaves out records after the last one in the window', async () => {
    const lines = await ask({ from: '2026-03-01T10:01:00.000Z', to: '2026-03-01T10:02:30.000Z' });
    // 2 and 4 (10:02) with 3 (10:05) between; 6 (10:03) is past `to`, so nothing after 4 is in the window.
    expect(seqsOf(lines)).toEqual([2, 3, 4]);
    expect(await verifyExport(lines.map((line) => JSON.stringify(line)), 'org-w')).toMatchObject({ ok: true, firstSeq: 2, lastSeq: 4 });
    expect(seqsOf(await ask({ from: '2026-03-01T10:04:00.000Z', to: '2026-03-01T10:06:00.000Z' }))).toEqual([3]);
    expect(seqsOf(await ask({ from: '2026-03-01T10:50:00.000Z' }))).toEqual([7]);
    expect(seqsOf(await ask({ from: '2026-03-01T10:02:30.000Z' }))).toEqual([3, 4, 5, 6, 7, 8]);
  });
});
