import { Command, InvalidArgumentError, Option } from 'commander';
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { auditRoute, routeUrl } from '@km/shared';
import { verifyExport } from '@km/functions/dist/audit/audit-chain';
import { loadSettings, resolveTarget } from '../config/settings';

/**
 * `km audit export` streams the org's audit trail (GET /api/audit) to a file or stdout; `km audit verify FILE`
 * checks its hash chain and signed head, and exits 1 naming the first bad record.
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
      const { endpoint, apiKey } = resolveTarget(loadSettings());
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
        throw new Error(`the export stopped before its end (${(error as Error).message}); nothing was written to ${options.out}`);
      }
      process.stderr.write(`km audit: wrote ${options.out}; check it with km audit verify ${options.out}\n`);
    });
  audit
    .command('verify')
    .description('Check an ndjson export: every hash, every link, the seqs and the signed head; exit 1 naming the first bad record')
    .argument('<file>', 'an export of km audit export (ndjson)')
    .option('--head <seq:hash>', 'a head published or kept before (seq:hash): the export must hold that record unchanged', (value: string) => {
      const match = /^(\d+):([0-9a-f]{64})$/.exec(value);
      if (!match) throw new InvalidArgumentError('give the seq and hash of a record, as 1234:<64 hex digits>');
      return { seq: Number(match[1]), hash: match[2]! };
    })
    .option('--org <org>', 'the org the export must be of')
    .action(async (file: string, options: { head?: { seq: number; hash: string }; org?: string }) => {
      const input = createReadStream(file);
      const opened = new Promise<void>((resolve, reject) => input.once('open', () => resolve()).once('error', reject));
      await opened.catch((error: NodeJS.ErrnoException) => {
        throw new Error(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
      });
      const outcome = await verifyExport(createInterface({ input, crlfDelay: Infinity }), options.org, options.head);
      if (!outcome.ok) {
        process.stdout.write(`km audit verify: ${file} does NOT hold: line ${outcome.line}${outcome.seq !== null ? `, record ${outcome.seq}` : ''}: ${outcome.problem}\n`);
        process.exitCode = 1;
        return;
      }
      const span = outcome.firstSeq === null ? 'no records' : `records ${outcome.firstSeq}-${outcome.lastSeq}`;
      process.stdout.write(
        `km audit verify: ${file} holds: ${span} of org "${outcome.head.orgId}", chain of ${outcome.head.count} signed at ${outcome.head.signedAt}; head ${outcome.head.count}:${outcome.head.hash}\n`,
      );
    });
  return audit;
}
