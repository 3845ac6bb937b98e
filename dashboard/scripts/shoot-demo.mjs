// The landing page's screenshots (dashboard/welcome/shots/): the demo's views as a visitor sees them, taken from
// dashboard/dist with Debian's chromium. Run after `npm run build -w dashboard`, then build again to include them:
// node dashboard/scripts/shoot-demo.mjs
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const dashboard = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(dashboard, 'dist');
const shots = join(dashboard, 'welcome', 'shots');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const VIEWS = [
  ['cost', '/cost', 'cost'],
  ['risk', '/risk', 'risk'],
  ['performance', '/performance', 'performance'],
  ['journey', '/journey', 'journey'],
];

const server = createServer((req, res) => {
  let file = normalize(join(dist, decodeURIComponent(req.url.split('?')[0])));
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!file.startsWith(dist) || !existsSync(file)) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({ executablePath: process.env.KM_CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
// A desktop's view, at a thumbnail's pixels: the landing page shows them a card wide.
const page = await browser.newPage({ viewport: { width: 1200, height: 750 }, deviceScaleFactor: 0.6 });
mkdirSync(shots, { recursive: true });
for (const [name, view, dataView] of VIEWS) {
  await page.goto(`${base}/demo/?view=${view}&range=7d&refresh=0`);
  await page.waitForSelector(`[data-view="${dataView}"]`, { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelectorAll('.loading').length === 0, undefined, { timeout: 30_000 });
  await page.screenshot({ path: join(shots, `${name}.jpg`), type: 'jpeg', quality: 75 });
  console.log(`wrote ${join(shots, `${name}.jpg`)}`);
}
await browser.close();
server.close();
