import { Command } from 'commander';
import { accessSync, constants, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { kmHome } from '../config/settings';
import { clientPath, which } from '../config/which';
import { CLIENT_IDS, clientConfigs, type ClientConfig, type ClientId } from '../init/clients';
import { editConfig, entryValue, type FileEdit } from '../init/config-edit';
import { ALREADY_WRAPPED, planEntry, type EntryPlan, type Launcher } from '../init/entry';
import { stampNow, undoLatestRun, writeRun, type RunChange } from '../init/init-runs';
import { lineDiff } from '../init/line-diff';
import { UsageError } from '../usage-error';

interface InitOptions {
  dryRun?: boolean;
  client?: string[];
  server?: string[];
  yes?: boolean;
  undo?: boolean;
}

/** `km init`: wraps the stdio servers of every MCP client config found, after showing the diff (issue 13). */
export function initCommand(): Command {
  return new Command('init')
    .description('Wrap the MCP servers in your clients\' configs with km (Claude Desktop and Code, Cursor, VS Code, Windsurf, Gemini CLI, Codex CLI)')
    .option('--dry-run', 'show what would change, write nothing')
    .option('--client <ids...>', `only these clients: ${CLIENT_IDS.join(', ')}`)
    .option('--server <names...>', 'only the server entries with these names')
    .option('-y, --yes', 'write without asking')
    .option('--undo', 'restore the files the last km init changed, byte for byte')
    .action(async (opts: InitOptions) => {
      const home = kmHome();
      if (opts.undo) {
        undo(home);
        return;
      }
      const clients = chosenClients(opts.client);
      const out = (line = '') => process.stdout.write(`${line}\n`);
      const launcher = kmLauncher();
      const kmEnv = envKmNeeds();
      const wanted = (name: string) => !opts.server || opts.server.includes(name);
      const changes: RunChange[] = [];
      const entryNames = new Set<string>();
      const readable: Array<{ config: ClientConfig; before: string; edit: Extract<FileEdit, { after: string }> }> = [];
      let unreadable = 0;
      let readOnly = 0;
      let found = 0;
      /** Entries of the files shown that stay unwrapped for a reason (a project file, an SSE server, ...): never "wrapped already". */
      let leftUnwrapped = 0;
      for (const config of clientConfigs({ home: homedir(), cwd: process.cwd(), platform: process.platform, appData: process.env.APPDATA }).filter((c) => clients.has(c.client))) {
        if (!existsSync(config.path)) continue;
        found++;
        const before = readFileSync(config.path, 'utf8');
        const plan = (name: string, entry: unknown): EntryPlan => {
          const planned = planEntry(name, entry, launcher, kmEnv, config.client === 'gemini');
          return planned.kind === 'wrap' ? (sharedFileProblem(config, launcher, kmEnv) ?? planned) : planned;
        };
        const edit = editConfig(config, before, plan, wanted);
        if ('problem' in edit) {
          unreadable++;
          process.stderr.write(`km init: ${edit.problem}\n`);
          continue;
        }
        for (const name of edit.names) entryNames.add(name);
        readable.push({ config, before, edit });
      }
      if (unreadable > 0) process.exitCode = 1;
      // A name asked for that no entry has (a typo, another machine's config): say so, and which names there are.
      const missing = (opts.server ?? []).filter((name) => !entryNames.has(name));
      if (missing.length > 0) {
        const names = entryNames.size > 0 ? `the entries found are ${[...entryNames].sort().map((n) => `"${n}"`).join(', ')}` : 'the configs found have no server entries';
        throw new Error(`no server entry named ${missing.map((n) => `"${n}"`).join(', ')} in the configs found (${names}); nothing changed`);
      }
      for (const { config, before, edit } of readable) {
        if (opts.server && edit.entries.length === 0) continue; // none of the servers asked for is in this file
        out(`${config.label}: ${config.path}`);
        if (edit.entries.length === 0) out('  no MCP servers here');
        for (const { name, place, plan } of edit.entries) out(plan.kind === 'wrap' ? `  wrap ${name} (${place})` : `  keep ${name}: ${plan.reason}`);
        leftUnwrapped += edit.entries.filter(({ plan }) => plan.kind === 'skip' && plan.reason !== ALREADY_WRAPPED).length;
        if (edit.after !== before && !writable(config.path)) {
          readOnly++;
          process.exitCode = 1;
          process.stderr.write(`km init: ${config.path} is read-only; left untouched (make it writable, or wrap its servers by hand)\n`);
        } else if (edit.after !== before) {
          if (edit.note) out(`  note: ${edit.note}`);
          for (const line of lineDiff(before, edit.after)) out(`    ${line}`);
          // Each wrapped entry as written, so --undo can give it back even after the client rewrites the file.
          const entries = edit.entries.filter((e) => e.plan.kind === 'wrap').map((e) => ({ path: e.path, written: entryValue(config.format, edit.after, e.path) }));
          changes.push({ path: config.path, text: edit.after, format: config.format, entries });
        }
        out();
      }
      // What could not be done goes into the summary too: "nothing to change" over a file km could not read is not true.
      const untouched = [
        unreadable > 0 ? `${unreadable} config(s) could not be read` : '',
        readOnly > 0 ? `${readOnly} config(s) are read-only` : '',
        leftUnwrapped > 0 ? `${leftUnwrapped} server(s) are left unwrapped, for the reasons given` : '',
      ]
        .filter(Boolean)
        .join(', ');
      if (found === 0) return void out(`km init: no MCP client config found (looked for ${describe(clients)}); add servers in your client, then run km init again`);
      if (changes.length === 0) return void out(untouched ? `km init: ${untouched} (see above); nothing else to change` : 'km init: nothing to change; every stdio server found is wrapped already');
      if (untouched) out(`km init: ${untouched} (see above)`);
      if (opts.dryRun) return void out(`km init: ${changes.length} file(s) would change (dry run: nothing written)`);
      if (!opts.yes && !(await confirmed(`Write these changes to ${changes.length} file(s)? A backup of each is kept. [y/N] `))) {
        throw new Error(process.stdin.isTTY ? 'nothing written' : 'nothing written: stdin is not a terminal, so add --yes to write (or --dry-run to look only)');
      }
      const stamp = stampNow();
      for (const file of writeRun(home, stamp, changes)) out(`wrote ${file.path} (backup: ${file.backup})`);
      out('Restart your MCP clients (or reload their servers) to start recording. km init --undo puts the files back.');
    });
}

/** Writable, and not marked read-only by its owner (root may write anything: the mode says what the user meant). */
function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return (statSync(path).mode & 0o222) !== 0;
  } catch {
    return false;
  }
}

function undo(home: string): void {
  const outcome = undoLatestRun(home);
  if (!outcome.at) {
    process.stdout.write('km init --undo: no km init run to undo\n');
    return;
  }
  for (const path of outcome.restored) process.stdout.write(`restored ${path}\n`);
  for (const { path, entries } of outcome.unwrapped) process.stdout.write(`restored ${entries.join(', ')} in ${path} (changed since km init wrote it: the rest is kept as it is now)\n`);
  for (const { path, backup, entries } of outcome.kept) {
    const what = entries ? `${entries.join(', ')} in ${path} changed since km init wrote ${entries.length > 1 ? 'them' : 'it'}` : `${path} changed since km init wrote it`;
    const again = outcome.retired ? '' : '; put it back as km wrote it and km init --undo tries this run once more';
    process.stderr.write(`km init --undo: ${what}; left as it is (the original is in ${backup}${again})\n`);
  }
  if (outcome.kept.length > 0) process.exitCode = 1;
}

function chosenClients(asked: string[] | undefined): Set<ClientId> {
  if (!asked) return new Set(CLIENT_IDS);
  const unknown = asked.filter((id) => !(CLIENT_IDS as readonly string[]).includes(id));
  if (unknown.length > 0) throw new UsageError(`unknown client ${unknown.map((u) => `"${u}"`).join(', ')}: use ${CLIENT_IDS.join(', ')}`);
  return new Set(asked as ClientId[]);
}

const describe = (clients: Set<ClientId>) => [...clients].join(', ');

/**
 * `km` when a km is on the PATH a client searches (what the issue's configs read); else node running this km's bin
 * script. Not this shell's PATH: under npx it holds the project's node_modules/.bin, which a client does not.
 */
function kmLauncher(): Launcher {
  return which('km', clientPath()) ? { command: 'km', argsPrefix: [] } : { command: process.execPath, argsPrefix: [thisKmScript()] };
}

/** This km's bin/km.js: npm links `.bin/km` to it, and node leaves argv[1] as the link it was started through. */
function thisKmScript(): string {
  const started = resolve(process.argv[1] ?? 'km');
  try {
    return realpathSync(started);
  } catch {
    return started;
  }
}

/**
 * A project's file is the team's (committed with the code): an entry naming this machine's path to km or its
 * KM_HOME would not run on a teammate's machine, so such entries are kept as they are, with what to do instead.
 */
function sharedFileProblem(config: ClientConfig, launcher: Launcher, kmEnv: Record<string, string>): EntryPlan | null {
  if (!config.shared) return null;
  const own = [launcher.command !== 'km' ? `this machine's path to km (${launcher.argsPrefix[0] ?? launcher.command})` : '', kmEnv.KM_HOME ? `its KM_HOME (${kmEnv.KM_HOME})` : ''].filter(Boolean);
  if (own.length === 0) return null;
  return { kind: 'skip', reason: `a project file, which the team shares, would name ${own.join(' and ')}; put km on the PATH (npm i -g) and leave KM_HOME at its default, then run km init again` };
}

/** Clients start servers with their own environment: what km needs from this one goes into the entry. */
function envKmNeeds(): Record<string, string> {
  const env: Record<string, string> = {};
  if (process.env.KM_HOME && resolve(process.env.KM_HOME) !== resolve(kmHome({}))) env.KM_HOME = resolve(process.env.KM_HOME);
  if (process.env.KM_ENDPOINT) env.KM_ENDPOINT = process.env.KM_ENDPOINT;
  return env;
}

async function confirmed(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
