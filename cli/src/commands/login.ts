import { Command, Option } from 'commander';
import { roleAllows, routeUrl, whoamiRoute } from '@km/shared';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHome, kmHome, loadSettings, resolveTarget } from '../config/settings';
import { UsageError } from '../usage-error';

/**
 * `km login --key KEY [--endpoint URL]`: points every km on this machine at a shared stack, so MCP client configs
 * need no secrets. The org is the key's, as the endpoint says (GET /api/whoami): it is never typed, so it cannot be
 * typed wrong. Nothing is saved unless the endpoint accepts the key. `--logout` forgets it.
 */
export function loginCommand(): Command {
  return new Command('login')
    .description('Save the endpoint and API key of a shared km stack (KM_HOME/login.json); --logout forgets them')
    .option('--endpoint <url>', 'base URL of the km API, e.g. https://km-prod.azurewebsites.net (default: the stack km ships to now)')
    .option('--key <key>', 'the API key your admin gave you (km keys create)')
    .addOption(new Option('--org <org>').hideHelp())
    .option('--logout', 'forget the saved endpoint and key')
    .action(async (options: { endpoint?: string; key?: string; org?: string; logout?: boolean }) => {
      const home = kmHome();
      const file = join(home, 'login.json');
      if (options.logout) {
        rmSync(file, { force: true });
        process.stdout.write(`km login: forgot ${file}; km ships to the local km serve again\n`);
        return;
      }
      if (options.org !== undefined) throw new UsageError('km login takes the org from the key: drop --org (the endpoint says which org the key is of)');
      if (!options.key) throw new UsageError('login needs --key <key> (and --endpoint <url> for a stack other than the one km ships to now), or --logout');
      const endpoint = (options.endpoint ?? resolveTarget(loadSettings()).endpoint).replace(/\/+$/, '');
      if (!/^https?:\/\//.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL, not "${options.endpoint}"`);
      let res: Response;
      try {
        res = await fetch(endpoint + routeUrl(whoamiRoute.path), { headers: { authorization: `Bearer ${options.key}` }, signal: AbortSignal.timeout(10_000) });
      } catch (error) {
        throw new Error(`cannot reach ${endpoint} (${(error as Error).message}); nothing was saved`);
      }
      const answer = (await res.json().catch(() => null)) as unknown;
      const said = (answer as { error?: string } | null)?.error;
      if (res.status === 401 || res.status === 403) throw new Error(`${endpoint} refused this key (${res.status}${said ? `: ${said}` : ''}); nothing was saved`);
      if (!res.ok) throw new Error(`${endpoint} answered ${res.status} to GET /api/whoami${said ? ` (${said})` : ''}; is it a km API of this version? Nothing was saved`);
      const me = whoamiRoute.answer.safeParse(answer);
      if (!me.success) throw new Error(`${endpoint} answered GET /api/whoami with something this km does not read; nothing was saved`);
      ensureHome(home);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ endpoint, apiKey: options.key, orgId: me.data.orgId }, null, 2) + '\n', { mode: 0o600 });
      renameSync(tmp, file);
      const scope = me.data.projectId ? `project "${me.data.projectId}" of org "${me.data.orgId}"` : `org "${me.data.orgId}"`;
      process.stdout.write(`km login: saved ${endpoint} for ${scope} (role ${me.data.role}) in ${file}; every km on this machine now ships there\n`);
      if (!roleAllows(me.data.role, 'ingest')) process.stderr.write(`km login: but a key of role ${me.data.role} may not ship events: km sessions will be refused and set aside; use a key of role member or above\n`);
    });
}
