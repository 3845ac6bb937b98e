import fc from 'fast-check';
import { jsonUtf8Length } from '../src/projections/interactions/json-size';

const utf8OfStringify = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

describe('jsonUtf8Length (the interactions fold measures events without stringifying them)', () => {
  it('equals the UTF-8 length of JSON.stringify for any JSON value, any text (escapes, surrogates, emoji)', () => {
    const text = fc.string({ unit: 'binary' });
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double(), fc.integer(), text, tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 5 }),
      object: fc.dictionary(text, tie('value'), { maxKeys: 5 }),
    })).value;
    fc.assert(fc.property(json, (value) => jsonUtf8Length(value) === utf8OfStringify(value)), { numRuns: 3000 });
  });

  it('leaves out what JSON.stringify leaves out, and measures what it converts', () => {
    const cases: unknown[] = [
      { a: undefined, b: () => 1, c: Symbol('s'), d: 1 },
      [undefined, () => 1, NaN, Infinity, -0],
      { when: new Date('2026-12-04T00:00:00.000Z'), nested: { toJSON: () => 'x\u00e9' } },
      Object.assign(Object.create(null), { '\ud800': 'lone', '0': 2, b: '\u2028\u0007"\\' }),
      '\ud83d\ude00\udc00',
    ];
    for (const value of cases) expect(jsonUtf8Length(value)).toBe(utf8OfStringify(value));
  });
});
