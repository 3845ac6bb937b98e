import { LineFramer, type Frame } from '../src/wrap/line-framer';

const lines = (frames: Frame[]) => frames.map((f) => (f.kind === 'line' ? f.text : `<oversized ${f.bytes}>`));

function feedInPieces(input: Buffer, cuts: number[], framer = new LineFramer()): Frame[] {
  const frames: Frame[] = [];
  let start = 0;
  for (const cut of [...cuts, input.length]) {
    frames.push(...framer.push(input.subarray(start, cut), 0));
    start = cut;
  }
  return [...frames, ...framer.end(0)];
}

describe('LineFramer', () => {
  const messages = ['{"jsonrpc":"2.0","id":1,"method":"tools/list"}', '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}', 'not json at all', '[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","id":"x","method":"b"}]'];
  const input = Buffer.from(messages.join('\n') + '\n', 'utf8');

  it('gives the same frames whatever byte offset a chunk boundary falls on', () => {
    for (let cut = 0; cut <= input.length; cut++) {
      expect(lines(feedInPieces(input, [cut]))).toEqual(messages);
    }
  });

  it('gives the same frames for every pair of split points', () => {
    for (let a = 0; a <= input.length; a += 3) {
      for (let b = a; b <= input.length; b += 5) expect(lines(feedInPieces(input, [a, b]))).toEqual(messages);
    }
  });

  it('handles one byte at a time, including a multi-byte UTF-8 character split across chunks', () => {
    const text = '{"jsonrpc":"2.0","method":"note","params":{"text":"é😀中"}}';
    const bytes = Buffer.from(text + '\n');
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(lines(feedInPieces(bytes, cuts))).toEqual([text]);
  });

  it('splits many frames in one chunk, strips CRLF and skips blank lines', () => {
    const framer = new LineFramer();
    const frames = framer.push(Buffer.from('{"a":1}\r\n\r\n{"b":2}\n\n  \n{"c":3}\r\n'), 5);
    expect(lines(frames)).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(frames.map((f) => f.bytes)).toEqual([9, 8, 9]);
  });

  it('reports the exact wire size of each frame', () => {
    const frames = feedInPieces(input, [7, 50, 51]);
    const total = frames.reduce((sum, f) => sum + f.bytes, 0);
    expect(total).toBe(input.length);
  });

  it('keeps a last line without a newline until the stream ends', () => {
    const framer = new LineFramer();
    expect(framer.push(Buffer.from('{"id":1'), 0)).toEqual([]);
    expect(framer.push(Buffer.from('}'), 0)).toEqual([]);
    expect(lines(framer.end(9))).toEqual(['{"id":1}']);
  });

  it('passes a frame of many megabytes through whole', () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { blob: 'x'.repeat(12 * 1024 * 1024) } });
    const bytes = Buffer.from(big + '\n');
    const cuts = Array.from({ length: Math.floor(bytes.length / 65536) }, (_, i) => (i + 1) * 65536);
    const frames = feedInPieces(bytes, cuts);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.kind === 'line' && frames[0]!.text.length).toBe(big.length);
  });

  it('reports a frame above the limit by size only, and recovers for the next frame', () => {
    const framer = new LineFramer(100);
    const frames = [...framer.push(Buffer.from('y'.repeat(80)), 0), ...framer.push(Buffer.from('y'.repeat(80) + '\n{"ok":true}\n'), 0)];
    expect(lines(frames)).toEqual(['<oversized 161>', '{"ok":true}']);
  });

  it('stamps each frame with the arrival time of the chunk that completed it', () => {
    const framer = new LineFramer();
    framer.push(Buffer.from('{"a"'), 100);
    const frames = framer.push(Buffer.from(':1}\n{"b":2}\n'), 250);
    expect(frames.map((f) => f.at)).toEqual([250, 250]);
  });
});
