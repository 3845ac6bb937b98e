import fc from 'fast-check';
import { bucketsCovering, wholeHoursCovering } from '../src/index';

const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('bucketsCovering', () => {
  it('tiles [from, to) widened to whole hours with UTC days inside and hours at the edges, without gaps or overlaps', () => {
    const base = Date.UTC(2026, 10, 25);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * DAY }), fc.integer({ min: 1, max: 40 * DAY }), (offset, length) => {
        const from = base + offset;
        const to = from + length;
        const refs = bucketsCovering(from, to, { kind: 'org' });
        let cursor = Math.floor(from / HOUR) * HOUR;
        for (const ref of refs) {
          expect(ref.periodMs).toBe(cursor);
          const size = ref.granularity === 'day' ? DAY : HOUR;
          expect(ref.periodMs % size).toBe(0);
          cursor += size;
        }
        expect(cursor).toBe(Math.ceil(to / HOUR) * HOUR);
        expect(wholeHoursCovering(from, to)).toEqual({ fromMs: Math.floor(from / HOUR) * HOUR, toMs: cursor });
        const hours = refs.filter((r) => r.granularity === 'hour').length;
        expect(hours).toBeLessThanOrEqual(refs.some((r) => r.granularity === 'day') ? 2 * 23 : 47);
      }),
    );
  });

  it('reads 30 day documents and no hours for 30 whole UTC days', () => {
    const from = Date.UTC(2026, 10, 1);
    const refs = bucketsCovering(from, from + 30 * DAY, { kind: 'org' });
    expect(refs.map((r) => r.granularity)).toEqual(Array(30).fill('day'));
  });
});
