/**
 * A unified-style diff of two texts, line by line (longest common subsequence), with `context` unchanged lines
 * around each change: what `km init` shows before it writes. Config files are small, so the quadratic table is fine.
 */
export function lineDiff(before: string, after: string, context = 2): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: Array<{ sign: ' ' | '-' | '+'; line: string }> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ sign: ' ', line: a[i++]! });
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      ops.push({ sign: '-', line: a[i++]! }); // removals first, as diff(1) shows them
    } else {
      ops.push({ sign: '+', line: b[j++]! });
    }
  }
  const near = (k: number) => ops.slice(Math.max(0, k - context), k + context + 1).some((op) => op.sign !== ' ');
  const out: string[] = [];
  let skipped = false;
  ops.forEach((op, k) => {
    if (near(k)) {
      if (skipped && out.length > 0) out.push('  ...');
      out.push(`${op.sign} ${op.line}`);
      skipped = false;
    } else {
      skipped = true;
    }
  });
  return out;
}
