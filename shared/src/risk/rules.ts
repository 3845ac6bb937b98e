import { VENDOR_TOKEN_RULES } from './vendor-tokens';

/**
 * Detection rules over the text of one JSON string (a tool argument, a line of a tool result). Each rule is a
 * pure function of the text: a global regex, optionally a `secret` named group (the part to redact, so that
 * "password=" still reads) and a validator for what a regex cannot say (Luhn, IBAN mod 97, entropy).
 * Rules never return the matched text: callers get offsets to redact and the rule's id to report.
 */
export type Severity = 'low' | 'medium' | 'high' | 'critical';
/** Least severe first. */
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];
export type FindingKind = 'secret' | 'pii' | 'path' | 'destructive' | 'poisoning' | 'rug_pull' | 'anomaly' | 'policy';

export interface TextRule {
  id: string;
  kind: FindingKind;
  severity: Severity;
  /** Where the rule applies: 'request' rules only look at what the client sends (paths, commands). */
  scope: 'any' | 'request';
  /** Global, with the d flag when a `secret` group narrows the span to redact. */
  pattern: RegExp;
  /** A cheap substring test that must hold before the regex runs (keeps scanning fast on ordinary text). */
  hint?: (text: string) => boolean;
  validate?: (match: string, secret: string) => boolean;
}

export interface TextMatch {
  rule: TextRule;
  start: number;
  end: number;
}

/** Shannon entropy in bits per character. */
export function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function cardNumber(match: string): boolean {
  const digits = match.replace(/[ -]/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  if (/^(\d)\1+$/.test(digits)) return false;
  // Issuer prefixes: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro.
  if (!/^(?:4|5[1-5]|2[2-7]|3[47]|3[05689]|6[0-9])/.test(digits)) return false;
  return luhn(digits);
}

function iban(match: string): boolean {
  const compact = match.replace(/ /g, '');
  if (compact.length < 15 || compact.length > 34) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = /\d/.test(ch) ? ch : String(ch.charCodeAt(0) - 55);
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

const PLACEHOLDER = /^(?:x+|\*+|\.+|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|changeme|password|secret|redacted|\[redacted.*|null|none|true|false|undefined|example\w*|your[_-]?\w*)$/i;

/** A value assigned to a key-like name: passwords as they are, other keys only when they look random. */
/**
 * A shell's PWD or OLDPWD (upper case, as shells set them) holding an absolute path: the working directory, not a
 * password (get-env tools list them). name: the key or variable, alone. Not applied to connection strings, whose
 * PWD= is a password even when it starts with a slash.
 */
export const isWorkingDirectory = (name: string, value: string) => /^(?:OLD)?PWD$/.test(name) && /^(?:\/|~\/|[A-Za-z]:\\)/.test(value);
/** The name an assignment match assigns to (`PWD` of `PWD=/home` or `"PWD": "/home"`). */
const assignedName = (match: string) => match.replace(/^[^A-Za-z0-9_]+/, '').split(/["']?\s*[:=]/)[0] ?? '';

function assignedSecret(match: string, secret: string): boolean {
  const value = secret.replace(/^["']|["']$/g, '');
  const name = assignedName(match);
  if (PLACEHOLDER.test(value) || value.startsWith('[REDACTED') || isWorkingDirectory(name, value)) return false;
  if (/passw|pwd/i.test(name)) return value.length >= 6 && !/^\d+$/.test(value);
  // Long and random-looking, even without a digit (20 random letters); or shorter with digits and letters mixed.
  if (value.length >= 16 && !/\s/.test(value) && entropy(value) >= 3.5) return true;
  return value.length >= 12 && entropy(value) >= 3.3 && /\d/.test(value) && /[A-Za-z]/.test(value);
}

/** `.env`-style UPPER_SNAKE names ending in PASSWORD/SECRET/TOKEN/KEY: passwords and secrets as they are, keys and tokens when not a plain word. */
function envSecret(match: string, secret: string): boolean {
  const value = secret.replace(/^["']|["']$/g, '');
  if (PLACEHOLDER.test(value) || value.startsWith('[REDACTED') || value.startsWith('$') || isWorkingDirectory(assignedName(match), value)) return false;
  if (/(?:PASSWORD|PASSWD|PWD|SECRET)\s*=/.test(match)) return value.length >= 6 && !/^\d+$/.test(value);
  return value.length >= 8 && /\d/.test(value) && /[A-Za-z]/.test(value);
}

/** An AWS secret access key: 40 characters of base64 with mixed case (never hex, never a word). */
function awsSecret(_match: string, secret: string): boolean {
  return /[a-z]/.test(secret) && /[A-Z]/.test(secret) && /[0-9/+]/.test(secret) && entropy(secret) >= 4;
}

/** HTTP Basic credentials: base64 that decodes to printable `user:password`. */
function basicCredentials(_match: string, secret: string): boolean {
  let decoded: string;
  try {
    decoded = atob(secret); // one char per byte, as latin1
  } catch {
    return false; // not base64 after all
  }
  return /^[\x20-\x7e]+:[\x20-\x7e]+$/.test(decoded);
}

/** US SSNs: area 000, 666 and 900-999, group 00 and serial 0000 are never issued. */
function ssn(match: string): boolean {
  const [area = '', group = '', serial = ''] = match.split('-');
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000' && !/^(\d)\1+$/.test(match.replace(/-/g, ''));
}

/** True when the text holds a run of 32 token characters: one pass over the char codes, no regex backtracking. */
function hasLongToken(text: string): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const token = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 47 || c === 95 || c === 61 || c === 45;
    if (!token) run = 0;
    else if (++run >= 32) return true;
  }
  return false;
}
/**
 * The context-free fallback: a 32-200 character run that looks random. Hex-only runs (UUIDs, git SHAs, sha256),
 * runs of more than 200 characters (base64 images and blobs), and anything lacking upper case, lower case and
 * digits mixed throughout are left alone.
 */
function randomToken(match: string): boolean {
  if (match.length > 200) return false;
  if (/^[0-9a-fA-F-]+$/.test(match)) return false;
  const body = match.replace(/=+$/, '');
  let upper = 0, lower = 0, digit = 0, switches = 0, prev = '';
  for (const ch of body) {
    const cls = ch >= 'a' && ch <= 'z' ? 'l' : ch >= 'A' && ch <= 'Z' ? 'u' : ch >= '0' && ch <= '9' ? 'd' : 'p';
    if (cls === 'l') lower++;
    else if (cls === 'u') upper++;
    else if (cls === 'd') digit++;
    // Only switches between letters and digits count: a path's or an identifier's separators (/, -, _) are no
    // randomness (/tmp/km-cost-bad-3BJ96T/km came out redacted in km.log).
    if (prev && prev !== 'p' && cls !== 'p' && cls !== prev) switches++;
    prev = cls;
  }
  if (upper < 2 || lower < 2 || digit < 2) return false;
  // Identifiers and paths change class rarely (camelCase words); random text every second or third character.
  if (switches / (upper + lower + digit) < 0.3) return false;
  return entropy(body) >= 4.2;
}

const has = (...needles: string[]) => (text: string) => needles.some((n) => text.includes(n));
/**
 * Any needle in any case. One case-insensitive regex, built once, rather than a lower-cased copy of the text per rule
 * (the copies were a third of the observer's time on 5 MB results, issue 11). No `u` flag: the same case folding as
 * the rules' own `i` patterns, so the hint passes whatever they could match.
 */
const hasCi = (...needles: string[]) => {
  const any = new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'i');
  return (text: string) => any.test(text);
};
const hasDigitRun = (text: string) => /\d{4}/.test(text);

const FALLBACK_RULE_ID = 'high-entropy-token';

export const TEXT_RULES: readonly TextRule[] = [
  // Cloud and SaaS credentials.
  // No \b before the id: in `creds_AKIA…`, `get_AKIA…` (a tool's name) or `MYAKIA…` there is no word boundary, and those
  // ids went out in clear; the end is 16 characters and no more, so a longer run of capitals is not one.
  { id: 'aws-access-key-id', kind: 'secret', severity: 'critical', scope: 'any', pattern: /(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![0-9A-Z])/g, hint: has('AKIA', 'ASIA', 'ABIA', 'ACCA') },
  {
    id: 'aws-secret-access-key',
    kind: 'secret',
    severity: 'critical',
    scope: 'any',
    // By name (aws_secret_access_key = ...), or in free text within 80 characters after a key id or the word secret.
    pattern:
      /aws.{0,24}?(?:secret|private).{0,24}?["'\s:=]+(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])|(?:(?:AKIA|ASIA)[0-9A-Z]{16}|secret)[^\n]{0,80}?(?<![A-Za-z0-9/+])(?<secret2>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi,
    hint: (t) => /aws|secret/i.test(t) || t.includes('AKIA') || t.includes('ASIA'),
    validate: awsSecret,
  },
  { id: 'azure-storage-key', kind: 'secret', severity: 'critical', scope: 'any', pattern: /AccountKey=(?<secret>[A-Za-z0-9+/]{86}==)/dg, hint: has('AccountKey=') },
  { id: 'azure-sas-token', kind: 'secret', severity: 'high', scope: 'any', pattern: /[?&]sig=(?<secret>[A-Za-z0-9%+/]{30,}={0,2})/dg, hint: has('sig=') },
  { id: 'azure-client-secret', kind: 'secret', severity: 'critical', scope: 'any', pattern: /\b[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])/g, hint: has('Q~') },
  { id: 'gcp-api-key', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g, hint: has('AIza') },
  { id: 'gcp-oauth-client-secret', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bGOCSPX-[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])/g, hint: has('GOCSPX-') },
  { id: 'github-token', kind: 'secret', severity: 'critical', scope: 'any', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82})\b/g, hint: has('gh', 'github_pat_') },
  { id: 'gitlab-token', kind: 'secret', severity: 'critical', scope: 'any', pattern: /\b(?:gl(?:pat|dt|ptt|rt|ft|imt|agent|oas|soat|ffct|cbt)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})(?![A-Za-z0-9_-])/g, hint: has('gl', 'GR1348941') },
  { id: 'slack-token', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bxox[abposre](?:\.xox[bp])?-[A-Za-z0-9-]{10,}\b/g, hint: has('xox') },
  { id: 'slack-webhook', kind: 'secret', severity: 'high', scope: 'any', pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows)\/[A-Za-z0-9_/]{20,}/g, hint: has('hooks.slack.com') },
  { id: 'stripe-key', kind: 'secret', severity: 'critical', scope: 'any', pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,}\b/g, hint: has('k_live_', 'k_test_') },
  { id: 'anthropic-key', kind: 'secret', severity: 'critical', scope: 'any', pattern: /\bsk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{80,}(?![A-Za-z0-9_-])/g, hint: has('sk-ant-') },
  { id: 'openai-key', kind: 'secret', severity: 'critical', scope: 'any', pattern: /\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])/g, hint: has('sk-') },
  { id: 'slack-app-token', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+\b/gi, hint: has('xapp-') },
  { id: 'stripe-webhook-secret', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bwhsec_[A-Za-z0-9+/]{32,}(?![A-Za-z0-9+/])/g, hint: has('whsec_') },
  {
    id: 'gcp-service-account-key',
    kind: 'secret',
    severity: 'critical',
    scope: 'any',
    pattern: /private_key_id\\?["']?\s*[:=]\s*\\?["']?(?<secret>[a-f0-9]{40})\b/dg,
    hint: has('private_key_id'),
  },
  // HTTP authentication schemes are case-insensitive (RFC 9110, 11.1): `basic`, `BASIC` and `Bearer` alike.
  { id: 'basic-auth', kind: 'secret', severity: 'high', scope: 'any', pattern: /\b[Bb][Aa][Ss][Ii][Cc]\s+(?<secret>[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])/dg, hint: hasCi('basic'), validate: basicCredentials },
  { id: 'sendgrid-api-key', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}(?![A-Za-z0-9_-])/g, hint: has('SG.') },
  { id: 'twilio-api-key', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bSK[0-9a-fA-F]{32}\b/g, hint: has('SK') },
  { id: 'vault-token', kind: 'secret', severity: 'critical', scope: 'any', pattern: /\bhv[sb]\.[A-Za-z0-9_-]{24,}(?![A-Za-z0-9_-])/g, hint: has('hvs.', 'hvb.') },
  { id: 'huggingface-token', kind: 'secret', severity: 'high', scope: 'any', pattern: /\b(?:hf_[A-Za-z0-9]{34,40}|api_org_[A-Za-z]{34})\b/g, hint: has('hf_', 'api_org_') },
  { id: 'google-oauth-token', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bya29\.[A-Za-z0-9._-]{30,}(?![A-Za-z0-9_-])/g, hint: has('ya29.') },
  { id: 'digitalocean-token', kind: 'secret', severity: 'critical', scope: 'any', pattern: /\bdo[opr]_v1_[a-f0-9]{64}\b/g, hint: has('_v1_') },
  {
    id: 'discord-webhook',
    kind: 'secret',
    severity: 'high',
    scope: 'any',
    pattern: /https:\/\/(?:(?:ptb|canary)\.)?discord(?:app)?\.com\/api\/webhooks\/\d+\/[A-Za-z0-9_-]{20,}/g,
    hint: has('discord'),
  },
  { id: 'npm-token', kind: 'secret', severity: 'high', scope: 'any', pattern: /\bnpm_[A-Za-z0-9]{36}\b/g, hint: has('npm_') },
  {
    id: 'private-key',
    kind: 'secret',
    severity: 'critical',
    scope: 'any',
    pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    hint: has('PRIVATE KEY'),
  },
  { id: 'jwt', kind: 'secret', severity: 'high', scope: 'any', pattern: /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g, hint: has('eyJ') },
  {
    id: 'connection-string-password',
    kind: 'secret',
    severity: 'high',
    scope: 'any',
    // The user may be empty (redis://:password@host).
    pattern: /\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@'"]*:(?<secret>[^\s@/'"]{3,})@|\b(?:Password|Pwd)\s*=\s*(?<secret2>[^;'"\s]{3,})/dgi,
    hint: (t) => t.includes('://') || /pwd|password/i.test(t),
  },
  { id: 'bearer-token', kind: 'secret', severity: 'high', scope: 'any', pattern: /\b[Bb][Ee][Aa][Rr][Ee][Rr]\s+(?<secret>[A-Za-z0-9._~+/-]{20,}=*)/dg, hint: hasCi('bearer') },
  {
    id: 'secret-assignment',
    kind: 'secret',
    severity: 'high',
    scope: 'any',
    pattern: /(?:^|[^A-Za-z0-9])(?:[A-Za-z0-9_.-]*?(?:passw(?:or)?d|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|credential|private[_-]?key|client[_-]?secret))["']?\s*[:=]\s*(?:"(?<secret>[^"\n]{1,200})"|["']?(?<secret2>[^\s"',;&<>]+))/dgi,
    hint: hasCi('pass', 'pwd', 'secret', 'token', 'key', 'credential'),
    // A double-quoted value is taken whole ("correct horse" must not leave "horse" behind).
    validate: assignedSecret,
  },
  {
    id: 'env-secret-assignment',
    kind: 'secret',
    severity: 'high',
    scope: 'any',
    pattern: /(?:^|[^A-Za-z0-9_])[A-Z][A-Z0-9_]*?(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|KEY)\s*=\s*["']?(?<secret>[^\s"',;&<>]+)/dg,
    hint: has('PASSWORD', 'PASSWD', 'PWD', 'SECRET', 'TOKEN', 'KEY'),
    validate: envSecret,
  },
  ...VENDOR_TOKEN_RULES,
  // PII.
  // Not inside a longer run of letters and digits: a UUID's or a hash's digits are no card or SSN (a JSON escape's
  // letter, the n of \n, is no letter of a word).
  { id: 'us-ssn', kind: 'pii', severity: 'high', scope: 'any', pattern: /(?<![\d-]|(?<!\\)[A-Za-z])\d{3}-\d{2}-\d{4}(?![\dA-Za-z-])/g, hint: hasDigitRun, validate: ssn },
  { id: 'email', kind: 'pii', severity: 'low', scope: 'any', pattern: /\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b/g, hint: has('@') },
  {
    id: 'phone-number',
    kind: 'pii',
    severity: 'low',
    scope: 'any',
    pattern: /(?<![\w+.:/-])(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}|\(\d{3}\)\s?\d{3}[ .-]\d{4}|\d{3}[ .]\d{3}[ .]\d{4})(?![\w.:/-])/g,
    hint: hasDigitRun,
    validate: (m) => {
      const digits = m.replace(/\D/g, '');
      return digits.length >= 10 && digits.length <= 15;
    },
  },
  { id: 'card-number', kind: 'pii', severity: 'high', scope: 'any', pattern: /(?<![\d-]|(?<!\\)[A-Za-z])(?:\d[ -]?){12,18}\d(?![\dA-Za-z-])/g, hint: hasDigitRun, validate: cardNumber },
  { id: 'iban', kind: 'pii', severity: 'medium', scope: 'any', pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g, hint: hasDigitRun, validate: iban },
  // The context-free fallback, last: every named rule above wins the redaction marker where both match.
  {
    id: 'high-entropy-token',
    kind: 'secret',
    severity: 'medium',
    scope: 'any',
    pattern: /(?<![A-Za-z0-9+/_=-])(?<!base64,)[A-Za-z0-9+/_=-]{32,}/g,
    hint: hasLongToken,
    validate: randomToken,
  },
  // Sensitive paths, in what the client asks for.
  {
    id: 'sensitive-path-env',
    kind: 'path',
    severity: 'high',
    scope: 'request',
    pattern: /(?:^|[\\/\s"'=:])\.env(?:\.(?!example\b|sample\b|template\b|dist\b)[\w-]+)?(?![\w.-])/g,
    hint: has('.env'),
  },
  {
    id: 'sensitive-path-ssh',
    kind: 'path',
    severity: 'critical',
    scope: 'request',
    pattern: /(?:\.ssh[\\/](?!known_hosts\b|config\b)[\w.-]*|\bid_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?\b(?!\.pub))/g,
    hint: has('.ssh', 'id_'),
  },
  {
    id: 'sensitive-path-cloud-credentials',
    kind: 'path',
    severity: 'critical',
    scope: 'request',
    pattern: /\.aws[\\/](?:credentials|config)\b|\.azure[\\/][\w.-]+|gcloud[\\/](?:application_default_credentials|credentials|legacy_credentials)[\w.\\/-]*|\.docker[\\/]config\.json|\.git-credentials\b|\.npmrc\b|\.netrc\b|\.pgpass\b/g,
    hint: has('.aws', '.azure', 'gcloud', '.docker', '.git-credentials', '.npmrc', '.netrc', '.pgpass'),
  },
  { id: 'sensitive-path-system', kind: 'path', severity: 'critical', scope: 'request', pattern: /\/etc\/(?:shadow|gshadow|sudoers|master\.passwd)\b/g, hint: has('/etc/') },
  { id: 'sensitive-path-kube', kind: 'path', severity: 'high', scope: 'request', pattern: /\.kube[\\/]config\b|\bkubeconfig(?:\.ya?ml)?\b/gi, hint: hasCi('kube') },
  // Destructive operations in arguments.
  {
    id: 'destructive-command',
    kind: 'destructive',
    severity: 'high',
    scope: 'request',
    pattern:
      /\brm\s+-[a-zA-Z]*[rRf][a-zA-Z]*\s|\bgit\s+push\b[^\n]*?\s(?:--force(?:-with-lease)?|-f)\b|\bgit\s+reset\s+--hard\b|\bgit\s+clean\s+-[a-z]*f|\bmkfs(?:\.\w+)?\s|\bdd\s+[^\n]*\bof=\/dev\/|\bkubectl\s+delete\b|\bterraform\s+destroy\b|\bdocker\s+system\s+prune\b/g,
    hint: hasCi('rm ', 'git ', 'mkfs', 'dd ', 'kubectl', 'terraform', 'docker'),
  },
  {
    id: 'destructive-sql',
    kind: 'destructive',
    severity: 'high',
    scope: 'request',
    pattern: /\b(?:DROP\s+(?:TABLE|DATABASE|SCHEMA|INDEX|VIEW|COLLECTION)|TRUNCATE\s+(?:TABLE\s+)?[\w."`]+|DELETE\s+FROM\s+[\w."`]+(?![^;]*\bWHERE\b))/gi,
    hint: hasCi('drop', 'truncate', 'delete'),
  },
];

export const RULES_BY_ID: ReadonlyMap<string, { kind: FindingKind; severity: Severity }> = new Map(
  TEXT_RULES.map((rule) => [rule.id, { kind: rule.kind, severity: rule.severity }]),
);

/**
 * Generic rules name a secret by where it stands, not by what it is, the more generic the higher: 0 for a rule of
 * what the secret is (a vendor's token, a JWT, a URL's password), then a bearer token's or an environment variable's,
 * any assignment's, and the fallback's.
 */
const GENERIC_RANK: ReadonlyMap<string, number> = new Map([
  // What follows "Bearer" may be a JWT or a vendor's token: named by that where it is one.
  ['bearer-token', 1],
  ['env-secret-assignment', 1],
  ['secret-assignment', 2],
  [FALLBACK_RULE_ID, 3],
]);
const specificity = (rule: TextRule) => GENERIC_RANK.get(rule.id) ?? 0;

/** Every match of every rule in scope; overlapping matches of different rules are all kept (redaction merges them). */
export function matchText(text: string, scope: 'request' | 'response', rules: readonly TextRule[] = TEXT_RULES): TextMatch[] {
  const found: TextMatch[] = [];
  for (const rule of rules) {
    if (rule.scope === 'request' && scope !== 'request') continue;
    if (rule.hint && !rule.hint(text)) continue;
    rule.pattern.lastIndex = 0;
    for (const m of text.matchAll(rule.pattern)) {
      const groups = m.indices?.groups;
      const span = groups?.secret ?? groups?.secret2 ?? m.indices?.[0] ?? [m.index!, m.index! + m[0].length];
      const secret = text.slice(span[0], span[1]);
      if (rule.validate && !rule.validate(m[0], secret)) continue;
      found.push({ rule, start: span[0], end: span[1] });
    }
  }
  if (found.length < 2) return found;
  // A URL's password and its host look like an email (password@host): that is the password, and the host is no
  // secret, unless it is itself an address (user:pw@jane@example.com): then the email is what follows the '@'.
  const passwords = found.filter((m) => m.rule.id === 'connection-string-password');
  const pastPassword = (m: TextMatch): TextMatch | null => {
    const password = m.rule.id === 'email' ? passwords.find((p) => p.start <= m.start && m.start < p.end) : undefined;
    if (!password) return m;
    const after = password.end + 1;
    const host = matchText(text.slice(after), scope, [m.rule]).find((e) => e.start === 0);
    return host ? { rule: m.rule, start: after, end: after + host.end } : null;
  };
  const notEmail = found.map(pastPassword).filter((m): m is TextMatch => m !== null);
  // One finding per secret, with its real name: a generic rule (or the fallback) only speaks where no more specific
  // one did (token=ghp_... is a GitHub token, Password=x a connection string's password), and of two generic ones
  // on the same text the first.
  const kept: TextMatch[] = [];
  for (const m of notEmail.sort((a, b) => specificity(a.rule) - specificity(b.rule))) {
    const covered = specificity(m.rule) > 0 && kept.some((o) => redacts(o.rule) && o.start < m.end && m.start < o.end);
    if (!covered) kept.push(m);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/**
 * Replaces each match with [REDACTED:rule-id]; overlapping matches become one marker, the first one's, and of two
 * starting at once the more severe one's (a URL's password, not the "email" its password and host look like).
 */
export function redactMatches(text: string, matches: readonly TextMatch[]): string {
  if (matches.length === 0) return text;
  const sorted = [...matches].sort((a, b) => a.start - b.start || SEVERITIES.indexOf(b.rule.severity) - SEVERITIES.indexOf(a.rule.severity) || b.end - a.end);
  let out = '';
  let cursor = 0;
  for (const m of sorted) {
    if (m.end <= cursor) continue;
    const start = Math.max(m.start, cursor);
    out += text.slice(cursor, start) + (start === m.start ? `[REDACTED:${m.rule.id}]` : '');
    cursor = m.end;
  }
  return out + text.slice(cursor);
}

/** Paths and destructive commands are findings, not secrets: previews keep them so a reviewer can see what happened. */
export const redacts = (rule: TextRule) => rule.kind === 'secret' || rule.kind === 'pii';

/** Redacts every secret and piece of PII the rules find in free text (error messages, non-JSON lines). */
export function redactText(text: string): string {
  return redactMatches(text, matchText(text, 'response').filter((m) => redacts(m.rule)));
}
