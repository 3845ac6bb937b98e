import { sqliteUnavailable } from '@km/functions/dist/host/sqlite-missing';
import { isNewOrgId, ORG_ID_RULE } from '@km/functions/dist/keys/key-directory';
import { ensureHome, loadSettings } from '../config/settings';
import { UsageError } from '../usage-error';

type Directories = ReturnType<typeof import('@km/functions/dist/host/local-key-admin').openLocalDirectories>;

/**
 * KM_HOME's key and member directories for km keys and km members. They need SQLite, loaded only here (wrapping
 * never needs it); their refusals (API errors) become plain messages.
 */
export async function withLocalDirectories<T>(use: (directories: Directories) => Promise<T>): Promise<T> {
  let directories: Directories;
  try {
    const { openLocalDirectories } = require('@km/functions/dist/host/local-key-admin') as typeof import('@km/functions/dist/host/local-key-admin');
    // A fresh KM_HOME (km keys create before any km serve): made as km serve makes it.
    const { home } = loadSettings();
    ensureHome(home);
    directories = openLocalDirectories(home);
  } catch (error) {
    throw sqliteUnavailable(error) ?? error;
  }
  try {
    return await use(directories);
  } catch (error) {
    // A 400 is the command's input (an org id that is none): a usage error, as a malformed argument is.
    if (error instanceof Error && error.name === 'ApiError') throw (error as { status?: number }).status === 400 ? new UsageError(error.message) : new Error(error.message);
    throw error;
  } finally {
    directories.close();
  }
}

/**
 * The org `--org` names on KM_HOME's database, which must be one it has (the local org, one with keys, or one with
 * members), unless `founding`: an owner's invitation may start an org, whose id must then be a new org's. A mistyped
 * or malformed org used to get any invitation, and the login then belonged to an org nobody used.
 */
export async function knownLocalOrg(directories: Directories, orgId: string, options: { named: boolean; founding?: boolean }): Promise<string> {
  if (!options.named || orgId === 'local') return orgId;
  const withKeys = await directories.keys.orgs();
  if (withKeys.includes(orgId) || (await directories.members.list(orgId)).length > 0) return orgId;
  if (options.founding && isNewOrgId(orgId)) return orgId;
  const known = ['local', ...withKeys.filter((org) => org !== 'local')].sort();
  const why = options.founding ? `"${orgId}" is not an org id (${ORG_ID_RULE})` : `no org "${orgId}" on this machine's database`;
  throw new UsageError(`${why}: it has ${known.map((org) => `"${org}"`).join(', ')} (an owner's invitation, --role owner, or km keys create --org <org> starts an org)`);
}
