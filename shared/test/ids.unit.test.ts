import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { derivedEventId, EVENT_ID_PATTERN, eventIdTime, newEventId } from '../src/ids';
import { sha256 } from '../src/sha256';

describe('newEventId', () => {
  it('makes UUIDv7 ids that carry their creation time', () => {
    const id = newEventId(Date.UTC(2026, 10, 25, 12, 0, 0, 123));
    expect(id).toMatch(EVENT_ID_PATTERN);
    expect(eventIdTime(id)).toBe(Date.UTC(2026, 10, 25, 12, 0, 0, 123));
  });

  it('keeps ids from one process strictly increasing, even within one millisecond or with a clock step back', () => {
    const ids = [...Array.from({ length: 10000 }, () => newEventId(5_000_000_000_000)), newEventId(4_000_000_000_000), newEventId()];
    const sorted = [...ids].sort();
    expect(ids).toEqual(sorted);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('derivedEventId and the SHA-256 it hashes keys with', () => {
  it('agrees with Node crypto on empty, ASCII, multi-byte and block-boundary inputs', () => {
    const inputs = ['', 'abc', 'héllo ✓ 日本 🚀', ...[55, 56, 63, 64, 65, 119, 120, 1000].map((n) => 'x'.repeat(n))];
    for (let i = 0; i < 200; i++) inputs.push(Array.from({ length: i }, (_, j) => String.fromCharCode(32 + ((i * 31 + j * 7) % 95))).join(''));
    for (const input of inputs) expect(Buffer.from(sha256(input)).toString('hex')).toBe(createHash('sha256').update(input).digest('hex'));
  });

  it('makes the ids it made with Node crypto before: journals and logs written by an older km replay to the same ids', () => {
    const key = 'session-1/12/3';
    const bytes = createHash('sha256').update(key).digest().subarray(0, 16);
    bytes[6] = 0x70 | (bytes[6]! & 0x0f);
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);
    const id = derivedEventId(Date.UTC(2026, 11, 3), key);
    expect(id).toMatch(EVENT_ID_PATTERN);
    expect(eventIdTime(id)).toBe(Date.UTC(2026, 11, 3));
    expect(id.replace(/-/g, '').slice(12)).toBe(bytes.toString('hex').slice(12));
  });
});

describe('shared/src', () => {
  it('imports no Node built-in: its folds and ids also run in the browser', () => {
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
    const offenders = files(join(__dirname, '..', 'src')).filter((file) => /from '(node:)?(crypto|fs|path|os|zlib|http|https|child_process|worker_threads|buffer|util)'|require\(|\bBuffer\.|\bprocess\./.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
