import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

/**
 * Where km may POST a webhook someone set through the API (a budget's webhookUrl: any member may set one). Not to
 * this machine or a private network unless the operator says so: else a member's key would make the server call
 * its own admin ports or a cloud metadata address (SSRF). KM_WEBHOOK_ALLOW_PRIVATE=true allows them (a receiver on
 * the same machine or LAN, on a km serve only its user reaches).
 */
export const privateWebhooksAllowed = (env: NodeJS.ProcessEnv = process.env): boolean => env.KM_WEBHOOK_ALLOW_PRIVATE === 'true';

const V4_PRIVATE: Array<[number, number]> = [
  [0x00000000, 8], // "this" network
  [0x0a000000, 8], // 10/8
  [0x64400000, 10], // carrier-grade NAT
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // link-local, cloud metadata
  [0xac100000, 12], // 172.16/12
  [0xc0000000, 24], // IETF protocol assignments
  [0xc0a80000, 16], // 192.168/16
  [0xc6120000, 15], // benchmarking
  [0xe0000000, 3], // multicast and reserved, broadcast
];

function v4Number(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** Loopback, private, link-local, carrier-grade NAT, multicast, reserved; IPv4 inside IPv6 judged as IPv4. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) {
    const n = v4Number(address);
    return V4_PRIVATE.some(([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)));
  }
  if (family !== 6) return true; // not an address: nothing to call
  const words = ipv6Words(address);
  const zeros = (from: number, to: number) => words.slice(from, to).every((word) => word === 0);
  if (zeros(0, 7) && words[7]! <= 1) return true; // :: and ::1
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  // IPv4 inside: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), translated (::ffff:0:a.b.c.d), NAT64
  // (64:ff9b::a.b.c.d), judged as that IPv4 address; 6to4 (2002:aabb:ccdd::) by the IPv4 address it routes to.
  const mapped = zeros(0, 5) && (words[5] === 0xffff || words[5] === 0);
  const translated = zeros(0, 4) && words[4] === 0xffff && words[5] === 0;
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6);
  if (mapped || translated || nat64) return isPrivateAddress(v4(words[6]!, words[7]!));
  if (words[0] === 0x2002) return isPrivateAddress(v4(words[1]!, words[2]!));
  const first = words[0]!;
  // Teredo (2001::/32) and local-use NAT64 (64:ff9b:1::/48) tunnel to addresses not shown plainly: refused.
  if ((first === 0x2001 && words[1] === 0) || (first === 0x64 && words[1] === 0xff9b && words[2] === 1)) return true;
  // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xffc0) === 0xfec0 || (first & 0xff00) === 0xff00;
}

/** An IPv6 address's eight 16-bit words (isIP already said it is one), an embedded dotted IPv4 tail included. */
function ipv6Words(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === null ? 0 : 8 - left.length - right.length;
  return [...left, ...Array(missing).fill('0'), ...right].map((word) => parseInt(word, 16));
}

/** Why the URL's host is private by its name alone (an address, localhost), or null: names are checked at connect. */
export function privateHostOf(url: string): string | null {
  let host: string;
  try {
    // A trailing dot names the same host (localhost. is localhost).
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  } catch {
    return null;
  }
  if (host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.localdomain') return `${host} is this machine`;
  return isIP(host) !== 0 && isPrivateAddress(host) ? `${host} is a loopback, private or link-local address` : null;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * dns.lookup for http.request that refuses every private address: checked where the socket connects, so a name
 * that resolves elsewhere by then (DNS rebinding) cannot reach in either.
 */
export function publicOnlyLookup(hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const refused = addresses.find((entry) => isPrivateAddress(entry.address));
    if (refused) {
      const denied = Object.assign(new Error(`${hostname} resolves to ${refused.address}, a loopback, private or link-local address: km does not call webhooks there unless KM_WEBHOOK_ALLOW_PRIVATE=true`), { code: 'EKMPRIVATE' });
      return callback(denied, []);
    }
    if ((options as LookupAllOptions).all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}
