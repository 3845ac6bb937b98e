import type { Severity, TextRule } from './rules';

/**
 * Vendor tokens that announce themselves with a fixed prefix (shpat_, gsk_, dapi, PMAK-...), one rule each so that a
 * finding names the vendor. The families are those of gitleaks' and secretlint's rule lists that km had no rule
 * for (see COVERAGE.md); the patterns are written here from the vendors' documented token formats.
 *
 * Dozens of `includes` per string would cost more than the rest of the scan, so the rules share one hint: a text
 * is searched once for all prefixes (one regex), and only when it holds a run of 20+ token characters, which every
 * token here needs. The answer is kept for the last text, as matchText asks each rule in turn about the same one.
 */
type VendorToken = [id: string, severity: Severity, prefixes: readonly string[], pattern: RegExp];

const VENDOR_TOKENS: readonly VendorToken[] = [
  // km's own API keys (shared/src/api-keys.ts), so a key pasted into a tool call is never shipped
  ['kilometers-api-key', 'critical', ['km_live_', 'km_test_', 'km_local_'], /\bkm_(?:live|test|local)_[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])/g],
  // secretlint's recommended preset
  ['shopify-token', 'high', ['shpat_', 'shpca_', 'shppa_', 'shpss_'], /\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b/g],
  ['grafana-token', 'high', ['glc_', 'glsa_', 'eyJrIjoi'], /\b(?:glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b|eyJrIjoi[A-Za-z0-9]{70,400}={0,3})/g],
  ['groq-api-key', 'high', ['gsk_'], /\bgsk_[A-Za-z0-9]{48,56}\b/g],
  ['linear-api-key', 'high', ['lin_api_', 'lin_oauth_'], /\blin_(?:api|oauth)_[A-Za-z0-9_]{32,}(?![A-Za-z0-9_])/g],
  ['notion-token', 'high', ['ntn_', 'secret_'], /\b(?:ntn_\d{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})\b/g],
  ['onepassword-token', 'critical', ['ops_eyJ', 'A3-'], /\b(?:ops_eyJ[A-Za-z0-9+/]{100,}={0,3}|A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})(?:-[A-Z0-9]{5}){3}\b)/g],
  ['vercel-token', 'high', ['vcp_', 'vci_', 'vca_', 'vcr_', 'vck_'], /\bvc[picrk]_[A-Za-z0-9]{20,}\b/g],
  ['databricks-token', 'critical', ['dapi'], /\bdapi[a-f0-9]{32}(?:-\d)?\b/g],
  ['docker-hub-token', 'high', ['dckr_pat_', 'dckr_oat_'], /\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}(?![A-Za-z0-9_-])/g],
  ['figma-token', 'high', ['figd_', 'figo_', 'figu_'], /\bfig[dou]_[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])/g],
  // gitleaks' default rules
  ['age-secret-key', 'critical', ['AGE-SECRET-KEY-1'], /\bAGE-SECRET-KEY-1[02-9ac-hj-np-z]{58}\b/gi],
  ['pypi-token', 'critical', ['pypi-AgEIcHlwaS5vcmc'], /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}/g],
  ['postman-api-key', 'high', ['PMAK-'], /\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b/g],
  ['sentry-token', 'high', ['sntryu_', 'sntrys_'], /\b(?:sntryu_[a-f0-9]{64}\b|sntrys_eyJ[A-Za-z0-9+/=_]{50,})/g],
  ['pulumi-token', 'critical', ['pul-'], /\bpul-[a-f0-9]{40}\b/g],
  ['doppler-token', 'critical', ['dp.pt.', 'dp.st.', 'dp.sa.', 'dp.ct.'], /\bdp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,44}\b/g],
  ['rubygems-token', 'high', ['rubygems_'], /\brubygems_[a-f0-9]{48}\b/g],
  ['perplexity-api-key', 'high', ['pplx-'], /\bpplx-[A-Za-z0-9]{48}\b/g],
  ['openshift-token', 'critical', ['sha256~'], /\bsha256~[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g],
  ['heroku-api-key', 'high', ['HRKU-'], /\bHRKU-AA[A-Za-z0-9_-]{58}(?![A-Za-z0-9_-])/g],
  ['planetscale-token', 'critical', ['pscale_'], /\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.=-]{32,64}(?![A-Za-z0-9_.=-])/g],
  ['newrelic-key', 'high', ['NRAK-', 'NRII-', 'NRJS-'], /\b(?:NRAK-[A-Z0-9]{27}|NRII-[A-Za-z0-9-]{32}|NRJS-[a-f0-9]{19})\b/g],
  ['teams-webhook', 'high', ['webhook.office.com'], /https:\/\/[a-z0-9-]+\.webhook\.office\.com\/webhookb2\/[A-Za-z0-9@/-]{40,}/g],
  ['square-token', 'high', ['sq0atp-', 'sq0csp-'], /\bsq0(?:atp|csp)-[A-Za-z0-9_-]{22,60}(?![A-Za-z0-9_-])/g],
  ['atlassian-api-token', 'critical', ['ATATT3'], /\bATATT3[A-Za-z0-9_=-]{150,}/g],
  ['artifactory-token', 'high', ['AKCp', 'cmVmd'], /\b(?:AKCp[A-Za-z0-9]{69}|cmVmd[A-Za-z0-9]{59})\b/g],
  ['dynatrace-token', 'high', ['dt0c01.'], /\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}\b/g],
  ['flyio-token', 'critical', ['fo1_', 'fm1', 'fm2_'], /\b(?:fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3})/g],
  ['brevo-api-key', 'high', ['xkeysib-'], /\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b/g],
  ['facebook-token', 'high', ['EAAC', 'EAAM'], /\bEAA[CM][A-Za-z0-9]{100,}/g],
  ['terraform-cloud-token', 'critical', ['.atlasv1.'], /\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}(?![A-Za-z0-9_=-])/g],
  ['sourcegraph-token', 'high', ['sgp_'], /\bsgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}\b/g],
  ['cloudflare-origin-ca-key', 'high', ['v1.0-'], /\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b/g],
  ['easypost-api-key', 'high', ['EZAK', 'EZTK'], /\bEZ[AT]K[A-Za-z0-9]{54}\b/g],
  ['telegram-bot-token', 'high', [':AA'], /\b\d{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])/g],
  ['mailchimp-api-key', 'high', ['-us'], /\b[a-f0-9]{32}-us\d{1,2}\b/g],
  ['alibaba-access-key-id', 'critical', ['LTAI'], /\bLTAI[A-Za-z0-9]{20}\b/g],
  ['prefixed-service-token', 'high', ['rdme_', 'pnu_', 'ico-', 'duffel_', 'tfp_', 'fio-u-', 'CLOJARS_', 'tk-us-', 'shippo_'],
    /\b(?:rdme_[a-z0-9]{70}|pnu_[A-Za-z0-9]{36}|ico-[A-Za-z0-9]{32}|duffel_(?:test|live)_[A-Za-z0-9_=-]{43}|tfp_[A-Za-z0-9_.=-]{59}|fio-u-[A-Za-z0-9_=-]{64}|CLOJARS_[A-Za-z0-9]{60}|tk-us-[A-Za-z0-9_-]{48}|shippo_(?:live|test)_[a-fA-F0-9]{40})(?![A-Za-z0-9_=-])/g],
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const PREFIXES = new RegExp(VENDOR_TOKENS.flatMap(([, , prefixes]) => prefixes).map(escape).join('|'), 'g');

const isTokenChar = (c: number) =>
  (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 45 || c === 46 || c === 47 || c === 95 || c === 126;
const MIN_RUN = 20;

/** True when the text holds a run of 20 token characters: one pass, no regex. */
function hasTokenRun(text: string): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    if (!isTokenChar(text.charCodeAt(i))) run = 0;
    else if (++run >= MIN_RUN) return true;
  }
  return false;
}

let memo: { text: string; found: ReadonlySet<string> } = { text: '', found: new Set() };
function prefixesIn(text: string): ReadonlySet<string> {
  if (text === memo.text) return memo.found;
  const found = new Set<string>();
  if (hasTokenRun(text)) for (const m of text.matchAll(PREFIXES)) found.add(m[0]);
  memo = { text, found };
  return found;
}

export const VENDOR_TOKEN_RULES: readonly TextRule[] = VENDOR_TOKENS.map(([id, severity, prefixes, pattern]) => ({
  id,
  kind: 'secret' as const,
  severity,
  scope: 'any' as const,
  pattern,
  hint: (text: string) => {
    const found = prefixesIn(text);
    return found.size > 0 && prefixes.some((p) => found.has(p));
  },
}));
