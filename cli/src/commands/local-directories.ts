import { sqliteUnavailable } from '@km/functions/dist/host/sqlite-missing';
import { ensureHome, loadSettings } from '../config/settings';

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
    if (error instanceof Error && error.name === 'ApiError') throw new Error(error.message);
    throw error;
  } finally {
    directories.close();
  }
}
