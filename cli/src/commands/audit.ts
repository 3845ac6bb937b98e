import { Command, InvalidArgumentError, Option } from 'commander';
import { closeSync, createReadStream, createWriteStream, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { auditRoute, routeUrl } from '@km/shared';
import { auditKeyFingerprint, auditPublicKey, verifyExport } from '@km/functions/dist/audit/audit-chain';
import { loadSettings, runningTarget } from '../config/settings';
import { auditKeyPath } from '@km/functions/dist/host/local-api-key';
import { keyComesSafelyFrom, localAuditKey, pinnedKey, serverAuditKey, trustedAuditKeys } from './audit-trust';
import { UsageError } from '../usage-error';

/**
 * `km audit export` streams the org's audit trail (GET /api/audit) to a file or stdout; `km audit verify FILE`
 * checks its hash chain, its signed range and head, and that the head's key is one the user trusts (never only the
 * key the file carries): exit 0 proven, 1 naming what does not hold, 3 intact but not proven.
 */
export function auditCommand(): Command {
  const audit = new Command('audit').description("The org's audit trail: every event as a hash chain with a signed head; export it, verify an export");
  audit
    .command('export')
    .description("Write the audit trail (ndjson, or csv) to --out or stdout: the trail of the key's org (KM_API_KEY or km login; with no key, this machine's local org)")
    .option('--from <time>', 'first record to show: when the server accepted it (ISO date-time or UTC date)')
    .option('--to <time>', 'last record to show')
    .option('--out <file>', 'write here (whole or not at all) instead of stdout')
    .addOption(new Option('--format <format>', 'ndjson (verifiable) or csv (for spreadsheets)').choices(['ndjson', 'csv']).default('ndjson'))
    .action(async (options: { from?: string; to?: string; out?: string; format: 'ndjson' | 'csv' }) => {
      // Checked here as the API checks them: a malformed time is a usage error (exit 2), not a server's 400.
      const checked = auditRoute.query.safeParse(Object.fromEntries(Object.entries({ from: options.from, to: options.to }).filter(([, value]) => value !== undefined)));
      if (!checked.success) throw new UsageError(checked.error.issues.map((issue) => issue.message).join('; '));
      const { endpoint, apiKey } = runningTarget(loadSettings());
      const url = endpoint + routeUrl(auditRoute.path, { from: options.from, to: options.to, format: options.format });
      let res: Response;
      try {
        res = await fetch(url, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
      } catch (error) {
        throw new Error(`nothing answered at ${endpoint} (${(error as Error).message}): start km serve, or check km login`);
      }
      if (!res.ok || !res.body) {
        const said = ((await res.json().catch(() => null)) as { error?: string } | null)?.error;
        throw new Error(`GET /api/audit answered ${res.status}${said ? `: ${said}` : ''}`);
      }
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      if (!options.out) return pipeline(body, process.stdout as unknown as Writable, { end: false });
      // Into a draft first: an export cut off half way is never left where the finished one should be.
      const draft = `${options.out}.${process.pid}.part`;
      try {
        await pipeline(body, createWriteStream(draft, { mode: 0o600 }));
        renameSync(draft, options.out);
      } catch (error) {
        rmSync(draft, { force: true });
        throw new Error(`the export stopped before its end (${(error as Error).message}); nothing was written to ${options.out}: export again (the server's log says why, e.g. a retention sweep cut the log meanwhile)`);
      }
      // A CSV is for reading: its cells are not the records the chain hashes, so only an ndjson export can be verified.
      const check = options.format === 'csv' ? 'a CSV for reading (km audit verify checks an ndjson export: export again without --format csv)' : `check it with km audit verify ${options.out}`;
      process.stderr.write(`km audit: wrote ${options.out}; ${check}\n`);
    });
  audit
    .command('verify')
    .description(
      'Check an ndjson export: every hash, every link, the seqs, the signed range and the signed head, and that the head is signed by a key you trust: exit 0 when all hold, 1 when something does not (naming it), 3 when the file is intact but not proven (no key to trust it by, or a head from before signed ranges), 2 when it cannot check (arguments, a file it cannot read)',
    )
    .argument('<file>', 'an export of km audit export (ndjson)')
    .option('--head <seq:hash>', 'a head published or kept before (seq:hash): the export must hold that record unchanged', (value: string) => {
      const match = /^(\d+):([0-9a-f]{64})$/.exec(value);
      if (!match) throw new InvalidArgumentError('give the seq and hash of a record, as 1234:<64 hex digits>');
      return { seq: Number(match[1]), hash: match[2]! };
    })
    .option('--org <org>', 'the org the export must be of')
    .option(
      '--key <file|fingerprint>',
      "the server's audit key, the only one trusted: a PEM file or SHA256:... (km audit key, where the server is trusted); default: this machine's km serve key and the key of the server km is logged in to",
    )
    .action(async (file: string, options: VerifyOptions) => {
      // Exit 0, 1 and 3 are verdicts; whatever stops the check itself (a file or key that cannot be read) is 2.
      const verdict = await verifyFile(file, options).catch((error: unknown) => {
        throw error instanceof UsageError ? error : new UsageError(`cannot check ${file}: ${(error as Error).message}`);
      });
      process.stdout.write(`km audit verify: ${file} ${verdict.text}\n`);
      process.exitCode = verdict.exitCode;
    });
  audit
    .command('key')
    .description("The key the server's audit heads are signed with: its fingerprint on stdout, for km audit verify --key elsewhere (the server km is logged in to, else this machine's km serve)")
    .option('--out <file>', 'also write the public key here, as PEM')
    .action(async (options: { out?: string }) => {
      const settings = loadSettings();
      const key = settings.endpoint ? await serverAuditKey(settings) : localAuditKey(settings.home);
      if (!key) throw new Error(`km serve has made no audit key here yet (${auditKeyPath(settings.home)}): start km serve once, or km login to a server`);
      if (options.out) writeFileSync(options.out, key.pem!, { mode: 0o644 });
      process.stdout.write(`${key.fingerprint}\n`);
      const unsafe = settings.endpoint && !keyComesSafelyFrom(settings.endpoint) ? '; it did not come over https or from a loopback address, so anyone on the way could have changed it: compare it with the fingerprint read on the server itself before you pin it' : '';
      process.stderr.write(`km audit: the audit key of ${key.source}${options.out ? `; PEM in ${options.out}` : ''}${unsafe}\n`);
    });
  return audit;
}

interface VerifyOptions {
  head?: { seq: number; hash: string };
  org?: string;
  key?: string;
}

interface Verdict {
  text: string;
  exitCode: 0 | 1 | 3;
}

/** What km audit verify says of the file: the chain, its range and head, and the key that vouches for it. */
async function verifyFile(file: string, options: VerifyOptions): Promise<Verdict> {
  // A --key that cannot be read is said before the file is read.
  const pinned = options.key === undefined ? undefined : pinnedKey(options.key);
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  if (!isFile) throw new UsageError(`cannot read ${file}: not a file`);
  // A CSV export is no record of the chain (it cannot be checked, which is not the same as failing the check).
  if (startsWithCsvHeader(file)) throw new UsageError(`cannot check ${file}: it is a CSV export, for reading; km audit verify checks an ndjson export (km audit export without --format csv)`);
  const outcome = await verifyExport(createInterface({ input: createReadStream(file), crlfDelay: Infinity }), options.org, options.head);
  const say = (text: string, exitCode: Verdict['exitCode']): Verdict => ({ text, exitCode });
  if (!outcome.ok) return say(`does NOT hold: line ${outcome.line}${outcome.seq !== null ? `, record ${outcome.seq}` : ''}: ${outcome.problem}`, 1);

  const { head } = outcome;
  const signedBy = auditKeyFingerprint(auditPublicKey(head.publicKey)!);
  const settings = loadSettings();
  const search = pinned ? { keys: [pinned], unanswered: [] } : await trustedAuditKeys(settings, signedBy);
  const trusted = search.keys.find((key) => key.fingerprint === signedBy);
  // Another key is proof of a forgery only when every key that could vouch was asked: else it is not proven.
  if (!trusted && search.keys.length > 0 && search.unanswered.length === 0) {
    const checked = search.keys.map((key) => `${key.fingerprint}, ${key.source}`).join('; nor by ');
    return say(`does NOT hold: its head is signed by key ${signedBy}, not by ${checked}. Anyone can sign a file with a key of their own; if this export is of another server, give its key with --key`, 1);
  }
  const span = outcome.firstSeq === null ? 'no records' : `records ${outcome.firstSeq}-${outcome.lastSeq}`;
  const what = `${span} of org "${head.orgId}", chain of ${head.count} signed at ${head.signedAt}`;
  if (!trusted) {
    const local = search.keys.length > 0 ? search.keys.map((key) => `not signed by ${key.fingerprint}, ${key.source}`) : [`no audit key of km serve in ${auditKeyPath(settings.home)}`];
    const looked = ['no --key', ...local, ...(search.unanswered.length > 0 ? search.unanswered : ['not logged in to a server (km login)'])];
    return say(
      `is NOT proven: the chain is intact (${what}), but its head is signed by key ${signedBy}, the key written in the file itself, and nothing here vouches for it (${looked.join('; ')}). Anyone can sign a file with a key of their own: run km audit key where the server is trusted, and verify again with --key SHA256:...`,
      3,
    );
  }
  const by = `by key ${signedBy}, ${trusted.source}`;
  if (!outcome.range) {
    // An older head signs only the chain's last hash: records that end before it are tied to nothing signed.
    const tied = outcome.lastSeq === head.count;
    const records = tied
      ? `${span} of org "${head.orgId}" link up to the hash the head signs`
      : `nothing ties ${span} to the head: the file ends before record ${head.count}, whose hash is the one signed, so the records themselves are not proven`;
    return say(
      `is NOT proven${tied ? ' complete' : ''}: ${records}; the head (chain of ${head.count}, signed at ${head.signedAt}) is signed ${by}, but it predates signed ranges${tied ? ', so records cut from the start of the file would not show' : ''}. Export again for a head that signs its range`,
      3,
    );
  }
  const { from, to } = outcome.range;
  const window = from === null && to === null ? 'the whole chain asked' : `the window asked, ${from ?? 'the start'} to ${to ?? 'the end'}`;
  if (outcome.pinnedUnchecked !== null) {
    return say(`is NOT proven to hold the --head given: ${outcome.pinnedUnchecked}, so it was not checked. The rest holds: ${what}, exactly the records its head signs (${window}), signed ${by}`, 3);
  }
  return say(`holds: ${what}, exactly the records its head signs (${window}), signed ${by}; head ${head.count}:${head.hash}`, 0);
}

/** Whether the file starts as a CSV export does (its header row), not as ndjson records. */
function startsWithCsvHeader(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(16);
    const read = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, read).toString('utf8').startsWith('seq,at,type,');
  } finally {
    closeSync(fd);
  }
}
