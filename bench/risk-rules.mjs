// Throughput of km's detection rules against secretlint's recommended preset on realistic tool results
// (file reads, directory listings, search hits, JSON API answers), with and without a secret in them.
// Prints MB/s and the ratio; never asserted (the machines are shared and noisy). Run after `npm run build`.
import { createRequire } from 'node:module';
import { lintSource } from '@secretlint/core';
import { creator as preset } from '@secretlint/secretlint-rule-preset-recommend';

const require = createRequire(import.meta.url);
const { scanResponse, matchText } = require('../shared/dist/index.js');

const fake = ['AKIA', 'Q3EGRIT5', 'ZXCVB7NM'].join('');
const code = Array.from({ length: 200 }, (_, i) => `export function handler${i}(req, res) {\n  const user = await db.users.find({ id: req.params.id, org: "${i}" });\n  return res.json({ ok: true, count: ${i}, url: "https://api.example.com/v1/items/${i}?page=2" });\n}\n`).join('');
const listing = Array.from({ length: 400 }, (_, i) => `[FILE] src/components/widget-${i}/index.tsx (${1000 + i * 7} bytes, modified 2026-05-0${(i % 9) + 1}T10:00:00Z)`).join('\n');
const apiJson = JSON.stringify({ items: Array.from({ length: 150 }, (_, i) => ({ id: `item_${i}`, title: `Issue ${i}: fix the flaky test in module ${i}`, author: { login: `dev${i}`, email: `dev${i}@example.com` }, labels: ['bug', 'p2'], created_at: '2026-05-01T10:00:00Z', body: 'Steps to reproduce: run npm test twice. Expected: green. Actual: red on CI only.' })) });
const samples = {
  'source file (clean)': code,
  'source file (1 secret)': code.replace('"17"', `"${fake}"`),
  'directory listing': listing,
  'issues JSON': apiJson,
};

const MB = 1024 * 1024;
async function measure(fn, text, minMs = 1500) {
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    await fn(text);
    bytes += Buffer.byteLength(text);
  }
  return bytes / MB / ((performance.now() - start) / 1000);
}

const config = { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: preset }] };
const secretlint = (text) => lintSource({ source: { content: text, filePath: 'result.txt', ext: '.txt', contentType: 'text' }, options: { config, noPhysicFilePath: true } });
const kmResult = (text) => scanResponse({ content: [{ type: 'text', text }] });
const kmText = (text) => matchText(text, 'response');

console.log('sample                     size     km scan   km text   secretlint   km/secretlint   findings km | secretlint');
for (const [name, text] of Object.entries(samples)) {
  const [a, b, c] = [await measure(kmResult, text), await measure(kmText, text), await measure(secretlint, text)];
  const found = kmResult(text).findings.map((f) => f.ruleId).join(',') || '-';
  const sl = (await secretlint(text)).messages.map((m) => m.ruleId.replace('@secretlint/secretlint-rule-', '')).join(',') || '-';
  console.log(`${name.padEnd(26)} ${(Buffer.byteLength(text) / 1024).toFixed(0).padStart(4)} KiB ${a.toFixed(1).padStart(7)}  ${b.toFixed(1).padStart(7)}   ${c.toFixed(2).padStart(9)}   ${(a / c).toFixed(2).padStart(12)}x    ${found} | ${sl}`);
}
console.log('MB/s of tool-result text; "km scan" is the structural scan the wrapper runs (walk, rules, redacted copy).');

// Coverage on the credential shapes both claim to know (fake values, built from pieces).
const j = (...p) => p.join('');
const shapes = {
  'AWS access key id': `aws_access_key_id = ${fake}`,
  'AWS secret key': `AWS_SECRET_ACCESS_KEY=${j('wJalrXUtnFEMI/K7MDENG/', 'bPxRfiCYzzzzzzzzzz')}`,
  'GitHub token': j('ghp_', 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A'),
  'Slack token': j('xoxb-', '123456789012-1234567890123-abcdefghijklmnopqrstuvwx'),
  'Stripe key': j('sk_live_', '4eC39HqLyjWDarjtT1zdp7dc'),
  'npm token': j('npm_', 'abcdefghijklmnopqrstuvwxyz0123456789'),
  'private key (cut)': j('-----BEGIN RSA ', 'PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA ', 'PRIVATE KEY-----'),
  'Postgres URL': 'postgres://admin:s3cr3tP4ss@db.internal:5432/app',
};
console.log('\nshape                 km                               secretlint');
for (const [name, text] of Object.entries(shapes)) {
  const km = kmText(text).filter((m) => m.rule.kind === 'secret').map((m) => m.rule.id).join(',') || '-';
  const sl = (await secretlint(text)).messages.map((m) => m.messageId ?? m.ruleId).join(',') || '-';
  console.log(`${name.padEnd(21)} ${km.padEnd(32)} ${sl}`);
}
process.exit(0);
