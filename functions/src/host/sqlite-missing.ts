/**
 * km serve's database is SQLite through better-sqlite3, a native module: an install that skipped its build (npm's
 * script policy, --ignore-scripts) or built it for another Node fails with a loader message that names neither
 * km serve nor the fix. This says both. Imports nothing, so it can explain a module that failed to load.
 */
const NOT_LOADABLE = /better[-_]sqlite3|bindings file|NODE_MODULE_VERSION|Cannot find module 'better-sqlite3'/;

export function sqliteUnavailable(error: unknown): Error | null {
  const message = error instanceof Error ? error.message : String(error);
  if (!NOT_LOADABLE.test(message)) return null;
  return new Error(
    `km serve needs better-sqlite3, which is missing or not built for Node ${process.versions.node} (${message.split('\n')[0]!.slice(0, 200)}): reinstall km so that it builds, e.g. npm install -g --allow-scripts=better-sqlite3 @kilometers/km`,
  );
}
