import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRoutes, type ApiRouteName, type LoggedEvent } from '@km/shared';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { verifyExport } from '../src/audit/audit-chain';
import { orgEventsOfLog } from '../src/adapters/log-org-events';
import type { SqliteEventLog } from '../src/adapters/sqlite-event-log';
import { setRetention, sweepRetention } from '../src/retention/retention';
import { openEmbeddedStack, type EmbeddedStack } from '../src/host/embedded-stack';
import { httpRoutes } from '../src/routes';
import { readModels } from '../src/read-models';
import { BUDGET_WEBHOOKS } from '../src/budget-webhooks';
import { askHandlers } from './contracts/api.contract';
import { aSessionOfEvents, anEnvelope, interaction, stored } from './fixtures';

const KEY = 'km_test_owner_key_of_org_r';
const OTHER = 'km_test_owner_key_of_org_o';
const quiet = { info() {}, warn() {}, error() {} };

/** The compiled projector worker (`npm run build`): km serve folds on its own thread, which a sweep must pause. */
const WORKER = join(__dirname, '..', 'dist', 'host', 'projector-worker.js');

describe.each([
  ['on the calling thread', null],
  ['on the projector thread', WORKER],
])('retention on the embedded stack (real SQLite), projector %s', (_, projectorWorkerFile) => {
  let home: string;
  let stack: EmbeddedStack;
  let ask: (name: ApiRouteName, params?: Record<string, string>, body?: unknown, key?: string) => ReturnType<typeof askHandlers>;
  const oldAt = '2026-01-05T10:00:00.000Z';
  let oldEvents: LoggedEvent[];
  let newEvents: LoggedEvent[];
  let midEvents: LoggedEvent[];
  let theirs: LoggedEvent[];

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'km-retention-'));
    stack = openEmbeddedStack({ home, logger: quiet, projectorIntervalMs: 20, projectorWorkerFile, additionalApiKeys: [{ keyHash: hashApiKey(KEY), orgId: 'org-r' }, { keyHash: hashApiKey(OTHER), orgId: 'org-o' }] });
    const routes = httpRoutes(stack.deps);
    ask = (name, params = {}, body, key = KEY) => askHandlers(routes, key, apiRoutes.find((route) => route.name === name)!, params, body);
    const mine = anEnvelope({ orgId: 'org-r', projectId: 'web' });
    // Accepted long ago (the log takes the server's receivedAt as written), and recently.
    oldEvents = stored([...aSessionOfEvents(mine, oldAt, 2), interaction(mine, oldAt, { requestId: '9', costUsd: 0.25, requestPreview: '{"q":"old"}' }), interaction(mine, oldAt, { requestId: '10', refusedByPolicy: true }), interaction(mine, oldAt, { requestId: '11', outcome: 'unanswered', endedAt: null, latencyMs: null, abandoned: true })], 'old', '2026-01-05T10:01:00.000Z');
    newEvents = stored(aSessionOfEvents(anEnvelope({ orgId: 'org-r', projectId: 'web' }), new Date(Date.now() - 3600_000).toISOString(), 2), 'new', new Date().toISOString());
    // A secret found in a call 10 days ago: past previewDays (7), within rawEventDays (30).
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000).toISOString();
    midEvents = stored([interaction(anEnvelope({ orgId: 'org-r', projectId: 'web' }), tenDaysAgo, { requestPreview: '{"key":"[REDACTED:aws-access-key-id]"}', findings: [{ ruleId: 'aws-access-key-id', severity: 'critical', path: '$.params.arguments.key' }] })], 'mid', tenDaysAgo);
    theirs = stored(aSessionOfEvents(anEnvelope({ orgId: 'org-o' }), oldAt, 2), 'theirs', '2026-01-05T10:01:00.000Z');
    await stack.deps.eventLog.append([...oldEvents, ...theirs]);
    await stack.deps.eventLog.append(midEvents);
    await stack.deps.eventLog.append(newEvents);
    stack.deps.onEventsAppended?.();
    const deadline = Date.now() + 30_000;
    while ((await ask('query-sessions', { limit: '10' })).body.sessions?.length !== 3) {
      if (Date.now() > deadline) throw new Error('the projector did not fold the events');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // The sweep km serve runs at start waits for the projector to pause: it must not be the one that finds the
    // setting made below (sweeps run one after the other, so this one ends after it).
    await stack.sweepRetention();
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const logOf = async () => (await stack.deps.eventLog.read(0, 10_000)).map(({ position, event }) => ({ position, id: event.id, orgId: event.orgId }));

  it('removes the org’s expired events from the log and pages, keeps aggregates, other orgs and positions, and the chain verifiable', async () => {
    const before = await ask('audit');
    const chainBefore = (before.body as Array<{ seq?: number; hash?: string }>).filter((line) => line.seq !== undefined);
    const costBefore = (await ask('query-cost', { from: '2026-01-01', to: '2026-01-31' })).body;
    const set = await ask('setRetention', {}, { rawEventDays: 30, previewDays: 7 });
    expect(set.body).toMatchObject({ rawEventDays: 30, previewDays: 7, updatedBy: `key:${hashApiKey(KEY).slice(0, 12)}` });
    expect((await ask('setRetention', {}, { rawEventDays: 3, previewDays: 7 })).status).toBe(400);
    const logBefore = await logOf();
    const secretBefore = (await ask('query-risk-findings', { kind: 'secret' })).body.findings.find((finding: { interactionId: string }) => finding.interactionId === midEvents[0]!.id);
    expect(secretBefore).toMatchObject({ preview: '{"key":"[REDACTED:aws-access-key-id]"}' });
    await stack.sweepRetention();

    const logAfter = await logOf();
    const gone = new Set(oldEvents.map((event) => event.id));
    expect(logAfter.filter((entry) => entry.orgId === 'org-r' && gone.has(entry.id))).toEqual([]);
    // Everything else is where it was: other orgs' old events, this org's recent ones, and the server's own events.
    expect(logAfter).toEqual(logBefore.filter((entry) => !(entry.orgId === 'org-r' && gone.has(entry.id))));
    expect(logAfter.filter((entry) => entry.orgId === 'org-o')).toHaveLength(theirs.length);
    // An expired event sent again is a duplicate, not brought back.
    expect(await stack.deps.eventLog.append([oldEvents[0]!])).toEqual({ appended: 0, duplicates: 1 });

    expect((await ask('query-cost', { from: '2026-01-01', to: '2026-01-31' })).body).toEqual(costBefore);
    const oldSession = (await ask('query-session-interactions', { id: oldEvents[0]!.sessionId })).body;
    expect(oldSession.interactions ?? []).toEqual([]);
    // Nothing of the expired rows stays in their pages, the ids of the refused and abandoned ones included.
    const pages = await stack.deps.readModelStore.query<{ receivedAt: string; rows: unknown[]; refused?: string[]; abandoned?: string[] }>('interactions', 'org-r', {});
    const expired = pages.filter((page) => page.receivedAt < '2026-02-01');
    expect(expired.length).toBeGreaterThan(0);
    expect(expired.map((page) => ({ rows: page.rows.length, refused: page.refused, abandoned: page.abandoned }))).toEqual(expired.map(() => ({ rows: 0, refused: undefined, abandoned: undefined })));
    // The finding of 10 days ago keeps its rule, place and severity, not the text it was found in.
    const secret = (await ask('query-risk-findings', { kind: 'secret' })).body.findings.find((finding: { interactionId: string }) => finding.interactionId === midEvents[0]!.id);
    expect(secret).toMatchObject({ ruleId: 'aws-access-key-id', severity: 'critical', preview: null });
    const retention = (await ask('retention')).body;
    expect(retention.lastSweep).toMatchObject({ eventsRemoved: oldEvents.length, checkpoint: { seq: oldEvents.length, hash: chainBefore[oldEvents.length - 1]!.hash } });

    const after = (await ask('audit')).body as Array<Record<string, unknown>>;
    expect(after[0]).toMatchObject({ checkpoint: true, seq: oldEvents.length, hash: chainBefore[oldEvents.length - 1]!.hash });
    const lines = after.map((line) => JSON.stringify(line));
    // What was published before the cut still holds after it: the records after the checkpoint are the same.
    const lastBefore = chainBefore[chainBefore.length - 1]!;
    const verified = await verifyExport(lines, 'org-r', { seq: lastBefore.seq!, hash: lastBefore.hash! });
    expect(verified).toMatchObject({ ok: true, checkpointSeq: oldEvents.length, firstSeq: oldEvents.length + 1 });
    // A checkpoint the signed head does not name is refused: one cannot cut a chain and claim retention did.
    const forged = [JSON.stringify({ checkpoint: true, orgId: 'org-r', seq: oldEvents.length + 1, hash: (after[1] as { hash: string }).hash, at: oldAt }), ...lines.slice(2)];
    expect(await verifyExport(forged, 'org-r')).toMatchObject({ ok: false, problem: expect.stringContaining('the signed head does not name') });

    await stack.sweepRetention();
    expect((await ask('retention')).body.lastSweep).toMatchObject({ eventsRemoved: 0 });
    expect((await ask('retention', {}, undefined, OTHER)).body).toMatchObject({ orgId: 'org-o', rawEventDays: null, lastSweep: null });
  });
});

describe('retention and km serve --rebuild (real SQLite)', () => {
  let home: string;
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('sweeps before the rebuild replays the log and again after it switches: the rebuilt read models hold neither expired events nor old previews', async () => {
    home = mkdtempSync(join(tmpdir(), 'km-retention-rebuild-'));
    const keys = [{ keyHash: hashApiKey(KEY), orgId: 'org-r' }];
    const open = (rebuild?: string[]) => openEmbeddedStack({ home, logger: quiet, projectorIntervalMs: 20, projectorWorkerFile: null, rebuildWorkerFile: null, additionalApiKeys: keys, ...(rebuild ? { rebuild } : {}) });
    const asker = (stack: EmbeddedStack) => {
      const routes = httpRoutes(stack.deps);
      return (name: ApiRouteName, params: Record<string, string> = {}, body?: unknown) => askHandlers(routes, KEY, apiRoutes.find((route) => route.name === name)!, params, body);
    };
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    const secretCall = (envelope: ReturnType<typeof anEnvelope>, at: string) =>
      interaction(envelope, at, { requestPreview: '{"key":"[REDACTED:aws-access-key-id]"}', findings: [{ ruleId: 'aws-access-key-id', severity: 'critical', path: '$.params.arguments.key' }] });
    const old = stored([secretCall(anEnvelope({ orgId: 'org-r' }), daysAgo(60))], 'old', daysAgo(60));
    const mid = stored([secretCall(anEnvelope({ orgId: 'org-r' }), daysAgo(10))], 'mid', daysAgo(10));
    const recent = stored([secretCall(anEnvelope({ orgId: 'org-r' }), daysAgo(0))], 'recent', daysAgo(0));

    const first = open();
    const ask1 = asker(first);
    for (const batch of [old, mid, recent]) await first.deps.eventLog.append(batch);
    first.deps.onEventsAppended?.();
    const deadline = Date.now() + 30_000;
    while ((await ask1('query-sessions')).body.sessions?.length !== 3) {
      if (Date.now() > deadline) throw new Error('the projector did not fold the events');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect((await ask1('setRetention', {}, { rawEventDays: 30, previewDays: 7 })).status).toBe(200);
    await first.close();

    // Restarted with a rebuild: the sweep at start cuts the log first, then the rebuild replays what is left.
    const second = open(['all']);
    const ask2 = asker(second);
    try {
      expect(await second.rebuilt).toBe('done');
      const sessions = (await ask2('query-sessions')).body.sessions as Array<{ id: string }>;
      expect(sessions.map((session) => session.id).sort()).toEqual([mid[0]!.sessionId, recent[0]!.sessionId].sort());
      // No sweep asked for here: the one after the switch takes the previews the rebuild folded again.
      const previews = async () => {
        const calls = (await ask2('query-session-interactions', { id: mid[0]!.sessionId })).body.interactions as Array<{ requestPreview: string | null }>;
        const findings = (await ask2('query-risk-findings', { kind: 'secret' })).body.findings as Array<{ interactionId: string; preview: string | null }>;
        return { calls: calls.map((call) => call.requestPreview), findings: findings.map((finding) => [finding.interactionId, finding.preview]) };
      };
      const swept = { calls: [null], findings: [[recent[0]!.id, '{"key":"[REDACTED:aws-access-key-id]"}'], [mid[0]!.id, null]] };
      const until = Date.now() + 30_000;
      while (JSON.stringify(await previews()) !== JSON.stringify(swept) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await previews()).toEqual(swept);
    } finally {
      await second.close();
    }
  });
});

describe('retention removes the rows of the events it removes, and only those (real SQLite)', () => {
  let home: string;
  let stack: EmbeddedStack;
  let ask: (name: ApiRouteName, params?: Record<string, string>, body?: unknown) => ReturnType<typeof askHandlers>;
  const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
  const callsOf = async (sessionId: string) => ((await ask('query-session-interactions', { id: sessionId })).body.interactions ?? []) as Array<{ id: string; requestPreview: string | null }>;
  const logIds = async () => new Set((await stack.deps.eventLog.read(0, 10_000)).map(({ event }) => event.id));

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'km-retention-rows-'));
    stack = openEmbeddedStack({ home, logger: quiet, projectorIntervalMs: 20, projectorWorkerFile: null, additionalApiKeys: [{ keyHash: hashApiKey(KEY), orgId: 'org-r' }] });
    const routes = httpRoutes(stack.deps);
    ask = (name, params = {}, body) => askHandlers(routes, KEY, apiRoutes.find((route) => route.name === name)!, params, body);
  });
  afterEach(async () => {
    await stack.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** Batches appended in this order, each accepted at its receivedAt; resolves once all their sessions are folded. */
  async function accept(batches: Array<{ name: string; receivedAt: string }>): Promise<Map<string, LoggedEvent[]>> {
    const appended = new Map<string, LoggedEvent[]>();
    for (const { name, receivedAt } of batches) {
      const events = stored(aSessionOfEvents(anEnvelope({ orgId: 'org-r' }), receivedAt, 2), name, receivedAt).map((event) =>
        event.type === 'mcp.interaction' ? { ...event, requestPreview: `{"q":"${name}"}` } : event,
      );
      await stack.deps.eventLog.append(events);
      appended.set(name, events);
    }
    stack.deps.onEventsAppended?.();
    const deadline = Date.now() + 30_000;
    while ((await ask('query-sessions', { limit: '10' })).body.sessions?.length !== batches.length) {
      if (Date.now() > deadline) throw new Error('the projector did not fold the events');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect((await ask('setRetention', {}, { rawEventDays: 30, previewDays: 7 })).status).toBe(200);
    return appended;
  }

  it('a batch accepted after a newer one (the clock stepped back) stays in the log, and so do its rows, without previews', async () => {
    const batches = await accept([
      { name: 'old', receivedAt: daysAgo(60) },
      { name: 'recent', receivedAt: daysAgo(0.1) },
      { name: 'stepped-back', receivedAt: daysAgo(50) },
    ]);
    await stack.sweepRetention();
    const inLog = await logIds();
    const [old, steppedBack] = [batches.get('old')!, batches.get('stepped-back')!];
    // The chain is cut as a run from its start: it stops at the recent batch, so the later one stays whole.
    expect(old.filter((event) => inLog.has(event.id))).toEqual([]);
    expect(steppedBack.every((event) => inLog.has(event.id))).toBe(true);
    expect(await callsOf(old[0]!.sessionId)).toEqual([]);
    const kept = await callsOf(steppedBack[0]!.sessionId);
    expect(kept.map((call) => call.id).sort()).toEqual(steppedBack.filter((event) => event.type === 'mcp.interaction').map((event) => event.id).sort());
    expect(kept.map((call) => call.requestPreview)).toEqual([null, null]);
    expect((await ask('retention')).body.lastSweep).toMatchObject({ eventsRemoved: old.length });
  });

  it('a sweep stopped after saving its checkpoint leaves events that the next sweep removes; their rows went with the first', async () => {
    const batches = await accept([
      { name: 'old', receivedAt: daysAgo(60) },
      { name: 'recent', receivedAt: daysAgo(0.1) },
    ]);
    const old = batches.get('old')!;
    const failing = { ...orgEventsOfLog(stack.deps.eventLog as SqliteEventLog), removeEvents: () => Promise.reject(new Error('the disk went away')) };
    await expect(sweepRetention(failing, stack.deps.readModelStore, new Date())).rejects.toThrow('the disk went away');
    expect([...(await logIds())].filter((id) => old.some((event) => event.id === id))).toHaveLength(old.length);
    // The export already starts after them, and their calls are gone from the pages.
    expect((await ask('audit')).body[0]).toMatchObject({ checkpoint: true, seq: old.length });
    expect(await callsOf(old[0]!.sessionId)).toEqual([]);

    await stack.sweepRetention();
    const inLog = await logIds();
    expect(old.filter((event) => inLog.has(event.id))).toEqual([]);
    expect((await ask('retention')).body.lastSweep).toMatchObject({ eventsRemoved: old.length, checkpoint: { seq: old.length } });
    expect((await callsOf(batches.get('recent')![0]!.sessionId)).map((call) => call.requestPreview)).toEqual(['{"q":"recent"}', '{"q":"recent"}']);
  });
});

describe('retention cuts no event before the projectors have folded it (real SQLite)', () => {
  it('an expired event km serve has not folded yet (a backlog at start) stays in the log until it is, then goes, its cost kept', async () => {
    const home = mkdtempSync(join(tmpdir(), 'km-retention-backlog-'));
    // The projector runs when told (onEventsAppended), not on a timer: the events appended below wait unfolded.
    const stack = openEmbeddedStack({ home, logger: quiet, projectorIntervalMs: 3_600_000, projectorWorkerFile: null, additionalApiKeys: [{ keyHash: hashApiKey(KEY), orgId: 'org-r' }] });
    const routes = httpRoutes(stack.deps);
    const ask = (name: ApiRouteName, params: Record<string, string> = {}, body?: unknown) => askHandlers(routes, KEY, apiRoutes.find((route) => route.name === name)!, params, body);
    const log = stack.deps.eventLog;
    const foldedAll = async () => {
      const last = (await log.read(-1, 100_000)).at(-1)!.position;
      const checkpoints = await Promise.all([...readModels.map((model) => model.name), BUDGET_WEBHOOKS].map((name) => log.getCheckpoint(name)));
      return Math.min(...checkpoints) >= last;
    };
    const until = async (condition: () => Promise<boolean>, what: string) => {
      const deadline = Date.now() + 30_000;
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    const januaryCost = async () => (await ask('query-cost', { from: '2026-01-01', to: '2026-01-31' })).body.total.costUsd as number;
    try {
      // The projector's run at start and the sweep at start are over (a sweep waits for both): nothing folds now.
      await stack.sweepRetention();
      const old = stored([...aSessionOfEvents(anEnvelope({ orgId: 'org-r' }), '2026-01-05T10:00:00.000Z', 2), interaction(anEnvelope({ orgId: 'org-r' }), '2026-01-05T10:00:00.000Z', { requestId: '9', costUsd: 5 })], 'old', '2026-01-05T10:01:00.000Z');
      await log.append(old);
      // As the route sets it, but without waking the projector.
      await setRetention({ store: stack.deps.readModelStore, append: async (events) => void (await log.append(events)), now: () => new Date(), newBatchId: () => 'set' }, 'org-r', { rawEventDays: 30, previewDays: null }, 'test');
      const inLog = async () => {
        const ids = new Set((await log.read(-1, 100_000)).map(({ event }) => event.id));
        return old.filter((event) => ids.has(event.id)).length;
      };

      // Before, this sweep removed them: cost, sessions and latency never saw them.
      await stack.sweepRetention();
      expect(await inLog()).toBe(old.length);
      expect((await ask('retention')).body.lastSweep).toMatchObject({ eventsRemoved: 0, waitingForReadModels: true });

      stack.deps.onEventsAppended!();
      await until(async () => (await stack.notifyBudgetWebhooks(), foldedAll()), 'the old events to be folded');
      await stack.sweepRetention();
      expect(await inLog()).toBe(0);
      expect(await januaryCost()).toBe(5);
      expect((await ask('retention')).body.lastSweep).not.toHaveProperty('waitingForReadModels');
    } finally {
      await stack.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
