import { Command, InvalidArgumentError, Option } from 'commander';
import { CreateKeyBodySchema, createKeyRoute, keysRoute, revokeKeyRoute, ROLES, whoamiRoute, type Role, type RouteAnswer } from '@km/shared';
import { loadSettings } from '../config/settings';
import { callApi } from './api-client';
import { withLocalDirectories } from './local-directories';
import { UsageError } from '../usage-error';

/** A key as the API lists it, with its org (the machine's own database lists every org's). */
type KeyView = RouteAnswer<typeof keysRoute>['keys'][number] & { orgId?: string };

/**
 * `km keys create|list|revoke`. Logged in to a team backend (km login, KM_ENDPOINT): through its API, with the saved
 * key, which must be an owner's or admin's. Otherwise on KM_HOME's own database, km serve running or not: the person
 * at this machine is its admin, and the first key of an org that has none makes the org (as its owner).
 */
export function keysCommand(): Command {
  const keys = new Command('keys').description("API keys of an org: create (shown once), list, revoke; on this machine's km serve database, or through the API after km login");
  keys
    .command('create')
    .description('Make an API key; it is printed once, alone on the last line of stdout')
    .option('--org <org>', "the key's org (a new org on this machine's database: its first key makes it, as owner); default the org you are logged in to, or local")
    .option('--project <projectId>', 'a project key: ships and reads that project only')
    .addOption(new Option('--role <role>', 'what the key may do (default: owner for the first key of an org, member after)').choices(ROLES))
    .option('--name <label>', 'a label to know the key by in km keys list')
    .option('--test', 'a km_test_ key (for test stacks and CI) instead of km_live_')
    .action(async (options: { org?: string; project?: string; role?: Role; name?: string; test?: boolean }) => {
      const prefix = options.test ? ('km_test_' as const) : ('km_live_' as const);
      // The API's own rules, here too for this machine's database: an empty --project would make an org-wide key.
      const asked = CreateKeyBodySchema.safeParse({ role: options.role ?? 'member', projectId: options.project ?? null, label: options.name ?? null, prefix });
      if (!asked.success) {
        const issue = asked.error.issues[0]!;
        const flag = issue.path[0] === 'projectId' ? '--project' : issue.path[0] === 'label' ? '--name' : `--${String(issue.path[0])}`;
        throw new UsageError(`${flag}: ${issue.code === 'too_small' ? 'cannot be empty' : issue.message}`);
      }
      let created: { key: string; apiKey: KeyView; orgId: string };
      if (remote()) {
        const me = await callApi(whoamiRoute);
        if (options.org && options.org !== me.orgId) throw new UsageError(`your key is of org "${me.orgId}": it makes keys of that org only (drop --org, or log in with a key of "${options.org}")`);
        created = await callApi(createKeyRoute, { body: { role: options.role ?? 'member', projectId: options.project ?? null, label: options.name ?? null, prefix } });
      } else {
        const orgId = options.org ?? loadSettings().orgId;
        created = await withLocalDirectory(async (directory) => {
          const first = (await directory.list(orgId)).length === 0;
          const made = await directory.create({ orgId, role: options.role ?? (first ? 'owner' : 'member'), projectId: options.project ?? null, label: options.name ?? null, prefix, actor: 'cli' });
          return { orgId, key: made.key, apiKey: made.listing };
        });
      }
      const { apiKey } = created;
      const scope = apiKey.projectId ? `project "${apiKey.projectId}" of org "${created.orgId}"` : `org "${created.orgId}"`;
      process.stderr.write(`km keys: made ${apiKey.prefix} (${apiKey.role}) for ${scope}. It is shown once: keep it now (km login --key <key>).\n`);
      process.stdout.write(`${created.key}\n`);
    });
  keys
    .command('list')
    .description('The keys of the org (revoked ones too): ids, prefixes, roles, scopes; never the keys')
    .option('--org <org>', "on this machine's database: one org's keys (default: every org's)")
    .option('--json', 'print JSON')
    .action(async (options: { org?: string; json?: boolean }) => {
      let listed: KeyView[];
      if (remote()) {
        if (options.org) throw new UsageError('--org is for the keys of this machine\'s database; through the API you see your own org\'s');
        const answer = await callApi(keysRoute);
        listed = answer.keys.map((key) => ({ ...key, orgId: answer.orgId }));
      } else {
        listed = await withLocalDirectory(async (directory) => {
          const orgs = options.org ? [options.org] : await directory.orgs();
          const perOrg = await Promise.all(orgs.map(async (orgId) => (await directory.list(orgId)).map(({ kind: _kind, ...key }) => ({ ...key, orgId }))));
          return perOrg.flat();
        });
      }
      if (options.json) return void process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
      if (listed.length === 0) return void process.stdout.write('no keys yet: km keys create --org <org>\n');
      const rows = listed.map((key) => [key.orgId ?? '', key.keyId, key.prefix, key.role, key.projectId ?? '-', key.label ?? '-', key.createdAt.slice(0, 19), key.revokedAt ? `revoked ${key.revokedAt.slice(0, 19)}` : 'active']);
      process.stdout.write(table([['ORG', 'ID', 'PREFIX', 'ROLE', 'PROJECT', 'LABEL', 'CREATED', 'STATE'], ...rows]));
    });
  keys
    .command('revoke')
    .description('Revoke a key by its id or prefix: every request with it is refused (401) from then on')
    .argument('<key>', 'the key id or prefix km keys list shows', (value: string) => {
      if (!value.trim()) throw new InvalidArgumentError('give a key id or prefix');
      return value.trim();
    })
    .action(async (reference: string) => {
      let revoked: KeyView & { orgId: string };
      /** The key was revoked before this command: revoking it again changes nothing, and says so. */
      let already = false;
      const isIt = (key: KeyView) => key.keyId === reference || key.prefix === reference;
      if (remote()) {
        const me = await callApi(whoamiRoute);
        already = (await callApi(keysRoute)).keys.some((key) => isIt(key) && key.revokedAt !== null);
        revoked = { ...(await callApi(revokeKeyRoute, { request: { keyId: reference } })), orgId: me.orgId };
      } else {
        revoked = await withLocalDirectories(async (directories) => {
          const orgId = await directories.keys.orgOfKey(reference);
          if (!orgId) throw new Error(`no key "${reference}" on this machine's database: km keys list shows the ids`);
          already = (await directories.keys.list(orgId)).some((key) => isIt(key) && key.revokedAt !== null);
          // As an owner of the org, by the API's rules: never the org's last owner.
          const { revokeKey } = require('@km/functions/dist/keys/revoke-key') as typeof import('@km/functions/dist/keys/revoke-key');
          const { kind: _kind, ...key } = await revokeKey(directories, { orgId, role: 'owner', actor: 'cli' }, reference);
          return { ...key, orgId };
        });
      }
      process.stdout.write(
        already
          ? `km keys: ${revoked.prefix} of org "${revoked.orgId}" was revoked already, at ${revoked.revokedAt}; nothing changed\n`
          : `km keys: revoked ${revoked.prefix} of org "${revoked.orgId}" at ${revoked.revokedAt}\n`,
      );
    });
  return keys;
}

/** A team backend is configured: keys live there, not in this machine's database. */
const remote = () => loadSettings().endpoint !== null;

type LocalDirectory = Parameters<Parameters<typeof withLocalDirectories>[0]>[0]['keys'];

const withLocalDirectory = <T>(use: (directory: LocalDirectory) => Promise<T>) => withLocalDirectories(({ keys }) => use(keys));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}


