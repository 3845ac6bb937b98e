import { Command, Option } from 'commander';
import { GithubLoginSchema, inviteMemberRoute, membersRoute, removeMemberRoute, ROLES, type Role } from '@km/shared';
import { inviteMember } from '@km/functions/dist/members/invite-member';
import { removeMember } from '@km/functions/dist/members/remove-member';
import { loadSettings } from '../config/settings';
import { callApi } from './api-client';
import { knownLocalOrg, withLocalDirectories } from './local-directories';
import { UsageError } from '../usage-error';

/**
 * `km members invite <login> [--role]` / `km members list` / `km members remove <login>`: who signs in to the org's dashboard with GitHub. Logged
 * in to a team backend, through its API; otherwise on KM_HOME's database (for a km serve shared beyond loopback).
 */
export function membersCommand(): Command {
  const members = new Command('members').description("The org's members: GitHub logins that sign in to its dashboard, invited with a role");
  members
    .command('invite')
    .description('Invite a GitHub login: their first sign-in makes them a member')
    .argument('<login>', 'their GitHub login')
    .addOption(new Option('--role <role>', 'what they may do').choices(ROLES).default('member'))
    .option('--org <org>', "on this machine's database: the org (default: the org you are logged in to, or local)")
    .option('--revoke-keys', 'lowering a member\'s role: revoke the keys they made with a role above the new one')
    .action(async (login: string, options: { role: Role; org?: string; revokeKeys?: boolean }, command: Command) => {
      if (!GithubLoginSchema.safeParse(login).success) throw new UsageError(`"${login}" is not a GitHub login`);
      const settings = loadSettings();
      // Inviting a member again sets their role: with no --role, that was member, and an owner asked again was
      // demoted without a word. A role other than theirs must be asked for.
      const keepsRole = (members: ReadonlyArray<{ login: string; role: Role }>) => {
        const known = members.find((member) => member.login.toLowerCase() === login.toLowerCase());
        if (known && known.role !== options.role && command.getOptionValueSource('role') === 'default') {
          throw new UsageError(`${known.login} is already a member with role ${known.role}: give --role to change it (km members invite ${known.login} --role ${options.role})`);
        }
      };
      let orgId: string;
      let invited: { keysAbove?: string[] | undefined; keysRevoked?: string[] | undefined };
      if (settings.endpoint) {
        if (options.org) throw new UsageError("--org is for this machine's database; through the API you invite to your own org");
        keepsRole((await callApi(membersRoute)).members);
        invited = await callApi(inviteMemberRoute, { request: { revokeKeys: options.revokeKeys ? 'true' : undefined }, body: { login, role: options.role } });
        orgId = settings.orgId;
      } else {
        orgId = options.org ?? settings.orgId;
        invited = await withLocalDirectories(async (directories) => {
          const org = await knownLocalOrg(directories, orgId, { named: options.org !== undefined, founding: options.role === 'owner' });
          keepsRole(await directories.members.list(org));
          return inviteMember(directories, { orgId: org, role: 'owner', actor: 'cli' }, login, options.role, { revokeKeys: options.revokeKeys });
        });
      }
      process.stdout.write(`km members: invited ${login} to org "${orgId}" as ${options.role}; they sign in with GitHub on the dashboard\n`);
      if (invited.keysAbove?.length) process.stdout.write(`km members: keys they made with a role above ${options.role} still work: ${invited.keysAbove.join(', ')} (km keys revoke <prefix>, or invite again with --revoke-keys, if they should not)\n`);
      if (invited.keysRevoked?.length) process.stdout.write(`km members: revoked the keys they made with a role above ${options.role}: ${invited.keysRevoked.join(', ')}\n`);
    });
  members
    .command('remove')
    .description("Remove a member or invitation: their sign-in stops working and they leave the org's teams")
    .argument('<login>', 'their GitHub login (what km members list shows: a member is known by it)')
    .option('--org <org>', "on this machine's database: the org (default: the org you are logged in to, or local)")
    .option('--revoke-keys', 'revoke the keys they made as well (left working by default: they may serve CI)')
    .action(async (login: string, options: { org?: string; revokeKeys?: boolean }) => {
      if (!GithubLoginSchema.safeParse(login).success) throw new UsageError(`"${login}" is not a GitHub login: give the login km members list shows`);
      const settings = loadSettings();
      let orgId: string;
      let removed: { login: string; role: Role; teamsLeft: string[]; keysMade: string[]; keysRevoked?: string[] | undefined };
      if (settings.endpoint) {
        if (options.org) throw new UsageError("--org is for this machine's database; through the API you remove members of your own org");
        removed = await callApi(removeMemberRoute, { request: { login, revokeKeys: options.revokeKeys ? 'true' : undefined } });
        orgId = settings.orgId;
      } else {
        orgId = options.org ?? settings.orgId;
        // The machine's own admin, as for km keys on its database: an owner, held to the last-owner rule all the same.
        removed = await withLocalDirectories(async (directories) => removeMember(directories, { orgId: await knownLocalOrg(directories, orgId, { named: options.org !== undefined }), role: 'owner', actor: 'cli' }, login, { revokeKeys: options.revokeKeys }));
      }
      const teams = removed.teamsLeft.length ? `; left team${removed.teamsLeft.length > 1 ? 's' : ''} ${removed.teamsLeft.join(', ')}` : '';
      process.stdout.write(`km members: removed ${removed.login} (${removed.role}) from org "${orgId}"; their sign-in no longer works${teams}\n`);
      if (removed.keysMade.length > 0) process.stdout.write(`km members: the keys they made still work: ${removed.keysMade.join(', ')} (km keys revoke <prefix> if they go with them)\n`);
      if (removed.keysRevoked?.length) process.stdout.write(`km members: revoked the keys they made: ${removed.keysRevoked.join(', ')}\n`);
    });
  members
    .command('list')
    .description('Members and open invitations')
    .option('--org <org>', "on this machine's database: the org (default: the org you are logged in to, or local)")
    .option('--json', 'print JSON')
    .action(async (options: { org?: string; json?: boolean }) => {
      const settings = loadSettings();
      const listed = settings.endpoint
        ? (await callApi(membersRoute)).members
        : await withLocalDirectories(async (directories) => directories.members.list(await knownLocalOrg(directories, options.org ?? settings.orgId, { named: options.org !== undefined }))).then((docs) => docs.map(({ kind: _kind, ...member }) => member));
      if (options.json) return void process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
      if (listed.length === 0) return void process.stdout.write('no members yet: km members invite <github login>\n');
      for (const member of listed) {
        const state = member.joinedAt ? `joined ${member.joinedAt.slice(0, 10)}` : `invited ${member.invitedAt?.slice(0, 10) ?? ''}`;
        process.stdout.write(`${member.login.padEnd(24)} ${member.role.padEnd(7)} ${state}\n`);
      }
    });
  return members;
}
