import fc from 'fast-check';
import { bucketsCovering } from '../src/index';

const MINUTE = 60_000;
const HOUR = 3_600_000;

describe('bucketsCovering', () => {
  it('tiles [from, to) widened to whole minutes with hours inside and minutes at the edges, without gaps or overlaps', () => {
    const base = Date.UTC(2026, 10, 25);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * 86_400_000 }), fc.integer({ min: 1, max: 2 * 86_400_000 }), (offset, length) => {
        const from = base + offset;
        const to = from + length;
        const refs = bucketsCovering(from, to);
        let cursor = Math.floor(from / MINUTE) * MINUTE;
        for (const ref of refs) {
          expect(ref.periodMs).toBe(cursor);
          const size = ref.granularity === 'hour' ? HOUR : MINUTE;
          if (ref.granularity === 'hour') expect(ref.periodMs % HOUR).toBe(0);
          cursor += size;
        }
        expect(cursor).toBe(Math.ceil(to / MINUTE) * MINUTE);
        expect(refs.filter((r) => r.granularity === 'minute').length).toBeLessThanOrEqual(2 * 59 + 60);
      }),
    );
  });
});
