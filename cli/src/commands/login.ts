import { Command } from 'commander';
import { routeUrl, sessionsRoute } from '@km/shared';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHome, kmHome } from '../config/settings';

/**
 * `km login --endpoint URL --key KEY [--org ORG]`: points every km on this machine at a shared (cloud) stack, so MCP
 * client configs need no secrets. The key is checked against the endpoint before anything is saved; `--logout`
 * forgets it (km goes back to the local km serve).
 */
export function loginCommand(): Command {
  return new Command('login')
    .description('Save the endpoint and API key of a shared km stack (KM_HOME/login.json); --logout forgets them')
    .option('--endpoint <url>', 'base URL of the km API, e.g. https://km-prod.azurewebsites.net')
    .option('--key <key>', 'the API key your admin gave you')
    .option('--org <org>', "your org id (the key's tenant)", 'local')
    .option('--logout', 'forget the saved endpoint and key')
    .action(async (options: { endpoint?: string; key?: string; org: string; logout?: boolean }) => {
      const home = kmHome();
      const file = join(home, 'login.json');
      if (options.logout) {
        rmSync(file, { force: true });
        process.stdout.write(`km login: forgot ${file}; km ships to the local km serve again\n`);
        return;
      }
      if (!options.endpoint || !options.key) throw new Error('login needs --endpoint <url> and --key <key> (or --logout)');
      const endpoint = options.endpoint.replace(/\/+$/, '');
      if (!/^https?:\/\//.test(endpoint)) throw new Error(`--endpoint must be an http(s) URL, not "${options.endpoint}"`);
      let status: number;
      try {
        const res = await fetch(endpoint + routeUrl(sessionsRoute.path, { limit: 1 }), { headers: { authorization: `Bearer ${options.key}` }, signal: AbortSignal.timeout(10_000) });
        status = res.status;
      } catch (error) {
        throw new Error(`cannot reach ${endpoint} (${(error as Error).message}); nothing was saved`);
      }
      if (status === 401 || status === 403) throw new Error(`${endpoint} refused this key (${status}); nothing was saved`);
      if (status >= 400) throw new Error(`${endpoint} answered ${status} to a test query; nothing was saved`);
      ensureHome(home);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ endpoint, apiKey: options.key, orgId: options.org }, null, 2) + '\n', { mode: 0o600 });
      renameSync(tmp, file);
      process.stdout.write(`km login: saved ${endpoint} for org "${options.org}" in ${file}; every km on this machine now ships there\n`);
    });
}
