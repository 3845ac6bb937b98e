import { EVENT_ID_PATTERN, eventIdTime, newEventId } from '../src/ids';

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
