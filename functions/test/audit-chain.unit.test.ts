import { createPrivateKey, sign } from 'node:crypto';
import { auditSigner, genesisHash, newAuditKeyPem, recordHash, verifyExport, type AuditRange, type AuditRecord } from '../src/audit/audit-chain';

const ORG = 'org-u';
const keyPem = newAuditKeyPem();
const signer = auditSigner(keyPem);

/** A chain of n records as the export writes them, from the org's genesis (or after a checkpoint). */
function chain(n: number, after: { seq: number; hash: string } = { seq: 0, hash: genesisHash(ORG) }): AuditRecord[] {
  const records: AuditRecord[] = [];
  let prevHash = after.hash;
  for (let seq = after.seq + 1; seq <= after.seq + n; seq++) {
    const unhashed = { seq, at: new Date(Date.UTC(2026, 0, 1, 0, seq)).toISOString(), type: 'budget.set', event: { orgId: ORG, n: seq }, prevHash };
    const record = { ...unhashed, hash: recordHash(unhashed) };
    records.push(record);
    prevHash = record.hash;
  }
  return records;
}

const rangeOf = (shown: AuditRecord[], window: { from?: string; to?: string } = {}): AuditRange => ({
  from: window.from ?? null,
  to: window.to ?? null,
  firstSeq: shown[0]?.seq ?? null,
  lastSeq: shown.at(-1)?.seq ?? null,
  lastHash: shown.at(-1)?.hash ?? null,
});

/** The head the server signs now: with the range of what is shown. */
function headOf(all: AuditRecord[], range: AuditRange, checkpoint: { seq: number; hash: string } | null = null) {
  const last = all.at(-1)!;
  const fields = { orgId: ORG, count: last.seq, hash: last.hash, signedAt: '2026-02-01T00:00:00.000Z', checkpoint, range };
  return { head: true as const, ...fields, publicKey: signer.publicKey, signature: signer.sign(fields) };
}

/** A head as km signed it before ranges: `orgId|count|hash|signedAt|checkpoint`, no range. */
function legacyHeadOf(all: AuditRecord[]) {
  const last = all.at(-1)!;
  const fields = { orgId: ORG, count: last.seq, hash: last.hash, signedAt: '2025-12-01T00:00:00.000Z', checkpoint: null };
  const text = `${fields.orgId}|${fields.count}|${fields.hash}|${fields.signedAt}|genesis`;
  return { head: true as const, ...fields, publicKey: signer.publicKey, signature: sign(null, Buffer.from(text), createPrivateKey(keyPem)).toString('base64') };
}

const lines = (...items: unknown[]) => items.map((item) => JSON.stringify(item));

describe('verifyExport: each line as km writes it', () => {
  const all = chain(3);
  const head = headOf(all, rangeOf(all));
  const text = lines(...all, head);

  it('holds for the lines as written, and refuses a line a reader could take two ways or with fields nobody hashed', async () => {
    expect(await verifyExport(text, ORG)).toMatchObject({ ok: true });
    const changed = (i: number, line: string) => text.map((l, at) => (at === i ? line : l));
    // A key given twice: JSON.parse keeps the last, another reader the first.
    const twice = text[1]!.replace('"event":{', '"event":{"n":5000,');
    expect(await verifyExport(changed(1, twice))).toMatchObject({ ok: false, line: 2, problem: expect.stringMatching(/^not as km writes it/) });
    // 1e999 reads as Infinity and hashes as null.
    const nulled = chain(1).map((r) => ({ ...r, event: { ...r.event, n: null } }));
    const unhashed = { seq: 1, at: nulled[0]!.at, type: nulled[0]!.type, event: nulled[0]!.event, prevHash: nulled[0]!.prevHash };
    const record = JSON.stringify({ ...unhashed, hash: recordHash(unhashed) }).replace('"n":null', '"n":1e999');
    expect(await verifyExport([record])).toMatchObject({ ok: false, line: 1, problem: expect.stringMatching(/^not as km writes it/) });
    // A field no hash covers, beside the hashed ones.
    const noted = JSON.stringify({ ...all[0]!, note: 'approved by the CFO' });
    expect(await verifyExport(changed(0, noted))).toMatchObject({ ok: false, seq: 1, problem: expect.stringContaining('fields km does not write') });
    expect(await verifyExport(changed(0, 'null'))).toMatchObject({ ok: false, line: 1, problem: 'not an audit line (an object)' });
    expect(await verifyExport(changed(0, '5'))).toMatchObject({ ok: false, line: 1, problem: 'not an audit line (an object)' });
  });
});

describe('verifyExport: the signed range', () => {
  const all = chain(53);
  const whole = headOf(all, rangeOf(all));

  it('given the whole chain and its signed range, then it holds and says the range', async () => {
    expect(await verifyExport(lines(...all, whole), ORG)).toMatchObject({ ok: true, firstSeq: 1, lastSeq: 53, range: { firstSeq: 1, lastSeq: 53, from: null, to: null } });
  });

  it('given the newest records cut off (records 1-5 and the head of 53), then it is refused', async () => {
    expect(await verifyExport(lines(...all.slice(0, 5), whole))).toMatchObject({ ok: false, seq: 5, problem: 'the export ends at record 5, the signed head says it holds records 1-53: records were cut from its end' });
  });

  it('given the oldest records cut off (the first 10 dropped), then it is refused', async () => {
    expect(await verifyExport(lines(...all.slice(10), whole))).toMatchObject({ ok: false, seq: 11, problem: 'the export starts at record 11, the signed head says it holds records 1-53: records were cut from its start' });
  });

  it('given every record cut, then it is refused', async () => {
    expect(await verifyExport(lines(whole))).toMatchObject({ ok: false, problem: 'the signed head says the export holds records 1-53; it holds none' });
  });

  it('given a window asked with from/to, then exactly its records hold, and a cut window does not', async () => {
    const shown = all.slice(19, 30);
    const head = headOf(all, rangeOf(shown, { from: shown[0]!.at, to: shown.at(-1)!.at }));
    expect(await verifyExport(lines(...shown, head))).toMatchObject({ ok: true, firstSeq: 20, lastSeq: 30, range: { from: shown[0]!.at } });
    expect(await verifyExport(lines(...shown.slice(0, -1), head))).toMatchObject({ ok: false, problem: expect.stringContaining('records were cut from its end') });
    const empty = headOf(all, rangeOf([], { from: '2030-01-01T00:00:00.000Z' }));
    expect(await verifyExport(lines(empty))).toMatchObject({ ok: true, records: 0, range: { firstSeq: null } });
    expect(await verifyExport(lines(shown[0], empty))).toMatchObject({ ok: false, problem: expect.stringContaining('records were added') });
  });

  it('given a window after a retention checkpoint, then the gap after the checkpoint is the signed range, not records missing', async () => {
    const checkpoint = { checkpoint: true, orgId: ORG, seq: 40, hash: all[39]!.hash, at: all[39]!.at };
    const after = all.slice(40);
    const shown = after.slice(5);
    const cut = { seq: 40, hash: all[39]!.hash };
    expect(await verifyExport(lines(checkpoint, ...shown, headOf(all, rangeOf(shown, { from: shown[0]!.at }), cut)))).toMatchObject({ ok: true, checkpointSeq: 40, firstSeq: 46 });
    expect(await verifyExport(lines(checkpoint, ...after, headOf(all, rangeOf(after), cut)))).toMatchObject({ ok: true, firstSeq: 41 });
    // The same file cut after the checkpoint is refused by its range.
    expect(await verifyExport(lines(checkpoint, ...after.slice(5), headOf(all, rangeOf(after), cut)))).toMatchObject({ ok: false, problem: expect.stringContaining('records were cut from its start') });
  });

  it('given a --head the export cannot hold (cut by retention, before a window, after its head), then it says it was not checked', async () => {
    const checkpoint = { checkpoint: true, orgId: ORG, seq: 40, hash: all[39]!.hash, at: all[39]!.at };
    const after = all.slice(40);
    const cut = { seq: 40, hash: all[39]!.hash };
    const afterCut = lines(checkpoint, ...after, headOf(all, rangeOf(after), cut));
    const made = { seq: 38, hash: 'ab'.repeat(32) };
    expect(await verifyExport(afterCut, undefined, made)).toMatchObject({ ok: true, pinnedUnchecked: 'record 38 is not in this export: retention removed records up to 40' });
    const window = all.slice(10, 20);
    const windowed = () => lines(...window, headOf(all, rangeOf(window, { from: window[0]!.at, to: window.at(-1)!.at })));
    expect(await verifyExport(windowed(), undefined, { seq: 5, hash: made.hash })).toMatchObject({ ok: true, pinnedUnchecked: 'record 5 is not in this export: the export starts at record 11' });
    expect(await verifyExport(windowed(), undefined, made)).toMatchObject({ ok: true, pinnedUnchecked: 'record 38 is not in this export: the export ends at record 20' });
    expect(await verifyExport(windowed(), undefined, { seq: 15, hash: made.hash })).toMatchObject({ ok: false, seq: 15 });
    expect(await verifyExport(lines(...all, whole), undefined, { seq: all.length + 5, hash: made.hash })).toMatchObject({ ok: true, pinnedUnchecked: `record ${all.length + 5} is not in this export: it comes after this export's head (a chain of ${all.length})` });
    // One the export does hold is checked, and a wrong one refused, as before.
    expect(await verifyExport(lines(checkpoint, ...after, headOf(all, rangeOf(after), cut)), undefined, { seq: 45, hash: all[44]!.hash })).toMatchObject({ ok: true, pinnedUnchecked: null });
    expect(await verifyExport(lines(checkpoint, ...after, headOf(all, rangeOf(after), cut)), undefined, { seq: 45, hash: made.hash })).toMatchObject({ ok: false, seq: 45 });
  });

  it('given a middle record dropped, then it is still refused as before', async () => {
    expect(await verifyExport(lines(...all.slice(0, 7), ...all.slice(8), whole))).toMatchObject({ ok: false, seq: 9, problem: 'seq 9 follows 7: records are missing' });
  });

  it('given a range stripped from a head (to pass for one signed before ranges), or changed, then the signature does not hold', async () => {
    const { range: _range, ...stripped } = whole;
    expect(await verifyExport(lines(...all.slice(0, 5), stripped))).toMatchObject({ ok: false, problem: 'the head signature does not hold' });
    expect(await verifyExport(lines(...all.slice(0, 5), { ...whole, range: rangeOf(all.slice(0, 5)) }))).toMatchObject({ ok: false, problem: 'the head signature does not hold' });
  });

  it('given a head signed before ranges, then it still reads, with no range: completeness is not proven', async () => {
    const legacy = legacyHeadOf(all);
    expect(await verifyExport(lines(...all, legacy), ORG)).toMatchObject({ ok: true, lastSeq: 53, range: null });
    expect(await verifyExport(lines(...all.slice(0, 5), legacy), ORG)).toMatchObject({ ok: true, lastSeq: 5, range: null });
  });
});
