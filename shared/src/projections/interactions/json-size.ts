/**
 * The UTF-8 length of JSON.stringify(value), counted without making the text: the interactions fold asks it of
 * every event to choose its page, and stringifying each event only to measure it was a twentieth of km serve's
 * folding (issue 11). Exact for what JSON.parse gives and for plain objects; anything else (toJSON, class
 * instances, bigint) is measured by stringifying it.
 */
export function jsonUtf8Length(value: unknown): number {
  const length = measure(value);
  return length === undefined ? 0 : length;
}

/** undefined: JSON.stringify leaves the value out (in an object) or writes null (in an array). */
function measure(value: unknown): number | undefined {
  switch (typeof value) {
    case 'string':
      return stringLength(value);
    case 'number':
      return Number.isFinite(value) ? String(value).length : 4;
    case 'boolean':
      return value ? 4 : 5;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      if (value === null) return 4;
      if (Array.isArray(value)) {
        let bytes = 2 + Math.max(0, value.length - 1);
        for (const item of value) bytes += measure(item) ?? 4;
        return bytes;
      }
      if (isPlain(value)) {
        let bytes = 2;
        let members = 0;
        for (const key in value) {
          if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
          const item = measure((value as Record<string, unknown>)[key]);
          if (item === undefined) continue;
          bytes += stringLength(key) + 1 + item;
          members++;
        }
        return bytes + Math.max(0, members - 1);
      }
      return byStringifying(value);
    default:
      return byStringifying(value);
  }
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

function byStringifying(value: unknown): number | undefined {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : utf8Of(text);
}

/** What JSON.stringify escapes or UTF-8 writes in more than a byte (also lone surrogates, which are over 0x7f). */
const NOT_PLAIN = /[\u0000-\u001f"\\\u0080-\uffff]/;

/** Quoted and escaped as JSON.stringify writes a string, in UTF-8 bytes. */
function stringLength(text: string): number {
  // Most text (previews, names, ids) is plain ASCII: one native scan instead of a loop over its characters.
  if (!NOT_PLAIN.test(text)) return text.length + 2;
  let bytes = 2;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) bytes += c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6;
    else if (c === 0x22 || c === 0x5c) bytes += 2;
    else if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) bytes += 6; // a lone surrogate is written as \udxxx
    else bytes += 3;
  }
  return bytes;
}

const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** UTF-8 bytes of text as it stands (no quoting): for text JSON.stringify already wrote. */
function utf8Of(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
