// Lighthouse (issue 15) on the landing page (/welcome/) and the demo (/demo/) as km serve serves them from
// dashboard/dist: performance, accessibility, best practices and SEO scores, LCP and CLS, against the target
// (>= 95 each, LCP < 1.5 s, CLS < 0.05). Reported figures, never asserted: the machine is shared and its load moves
// them. Lighthouse's default mobile emulation (a throttled phone), Debian's chromium (CHROME_PATH, default
// /usr/bin/chromium). BENCH_SHORT=1: one run per page (CI); otherwise BENCH_LIGHTHOUSE_RUNS (default 3), the median
// run by performance score kept. Figures are merged into bench/results.json (BENCH_RESULTS) as `lighthouse`.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { startEmbeddedHost } = require(join(root, 'functions', 'dist', 'host', 'embedded-host.js'));

const SHORT = process.env.BENCH_SHORT === '1';
const RUNS = SHORT ? 1 : Number(process.env.BENCH_LIGHTHOUSE_RUNS ?? 3);
const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const CHROME_FLAGS = '--headless --no-sandbox --disable-gpu --disable-background-networking';
const PAGES = ['/welcome/', '/demo/'];
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];
const TARGET = { score: 95, lcpMs: 1500, cls: 0.05 };
const quiet = { info() {}, warn() {}, error: (message) => console.error(message) };

/** One Lighthouse run of url through its CLI, its JSON report read from stdout. */
function lighthouse(url) {
  const bin = join(root, 'node_modules', 'lighthouse', 'cli', 'index.js');
  const args = [bin, url, '--output=json', '--output-path=stdout', '--quiet', `--chrome-flags=${CHROME_FLAGS}`, `--only-categories=${CATEGORIES.join(',')}`];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, CHROME_PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`lighthouse ${url} exited ${code}: ${err.trim().split('\n').slice(-3).join(' ')}`));
      try {
        resolve(JSON.parse(out));
      } catch (error) {
        reject(new Error(`lighthouse ${url} printed no JSON report: ${error.message}`));
      }
    });
  });
}

/** The figures of one report: scores as Lighthouse shows them (0-100), LCP in ms, CLS unitless. */
function figures(report) {
  const score = (id) => (report.categories[id]?.score == null ? null : Math.round(report.categories[id].score * 100));
  return {
    performance: score('performance'),
    accessibility: score('accessibility'),
    bestPractices: score('best-practices'),
    seo: score('seo'),
    lcpMs: report.audits['largest-contentful-paint']?.numericValue ?? null,
    cls: report.audits['cumulative-layout-shift']?.numericValue ?? null,
    runtimeError: report.runtimeError?.message ?? null,
  };
}

const meets = (f) => ({
  scores: [f.performance, f.accessibility, f.bestPractices, f.seo].every((s) => s !== null && s >= TARGET.score),
  lcp: f.lcpMs !== null && f.lcpMs < TARGET.lcpMs,
  cls: f.cls !== null && f.cls < TARGET.cls,
});

async function main() {
  if (!existsSync(CHROME_PATH)) throw new Error(`no chromium at ${CHROME_PATH}: install Debian's chromium (apt-get install chromium) or set CHROME_PATH`);
  if (!existsSync(join(root, 'dashboard', 'dist', 'welcome', 'index.html'))) throw new Error('dashboard/dist is not built: run npm run build first');
  const home = mkdtempSync(join(tmpdir(), 'km-bench-lighthouse-'));
  const host = await startEmbeddedHost({ home, port: 0, dashboardDir: join(root, 'dashboard', 'dist'), logger: quiet });
  const pages = {};
  let version = null;
  try {
    for (const path of PAGES) {
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        const report = await lighthouse(host.url + path);
        version = report.lighthouseVersion;
        runs.push(figures(report));
      }
      // The median run by performance score: its LCP and CLS are that run's, not medians of their own.
      const median = [...runs].sort((a, b) => (a.performance ?? -1) - (b.performance ?? -1))[Math.floor(runs.length / 2)];
      pages[path] = { ...median, runs: runs.length, targetMet: meets(median) };
    }
  } finally {
    await host.close();
    rmSync(home, { recursive: true, force: true });
  }

  console.log(`Lighthouse ${version} (mobile emulation), ${RUNS} run(s) per page on km serve; target: each score >= ${TARGET.score}, LCP < ${TARGET.lcpMs / 1000} s, CLS < ${TARGET.cls}`);
  console.log('page        perf  a11y  best   seo     LCP      CLS   target');
  for (const [path, f] of Object.entries(pages)) {
    const t = f.targetMet;
    const verdict = t.scores && t.lcp && t.cls ? 'met' : `NOT met (${[!t.scores && 'scores', !t.lcp && 'LCP', !t.cls && 'CLS'].filter(Boolean).join(', ')})`;
    const cell = (v) => String(v ?? '-').padStart(5);
    console.log(`${path.padEnd(10)} ${cell(f.performance)} ${cell(f.accessibility)} ${cell(f.bestPractices)} ${cell(f.seo)} ${(f.lcpMs === null ? '-' : `${(f.lcpMs / 1000).toFixed(2)} s`).padStart(7)} ${(f.cls === null ? '-' : f.cls.toFixed(3)).padStart(8)}   ${verdict}${f.runtimeError ? ` (${f.runtimeError})` : ''}`);
  }

  const resultsPath = process.env.BENCH_RESULTS ?? join(here, 'results.json');
  const previous = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {};
  const lighthouseResult = { at: new Date().toISOString(), cores: cpus().length, loadavg: loadavg(), version, chromePath: CHROME_PATH, chromeFlags: CHROME_FLAGS, short: SHORT, target: TARGET, pages };
  writeFileSync(resultsPath, `${JSON.stringify({ ...previous, lighthouse: lighthouseResult }, null, 2)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
