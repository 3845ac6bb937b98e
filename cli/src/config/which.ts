import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * The PATH a client searches when it starts a server: this one without the node_modules/.bin directories that npx
 * and npm scripts put in front for their own run. Cursor or Claude started from the desktop has none of them, so a
 * km (or a server) found only there is one the client cannot start.
 */
export function clientPath(pathVar = process.env.PATH ?? ''): string {
  return pathVar
    .split(delimiter)
    .filter((dir) => dir !== '' && !/(^|[\\/])node_modules[\\/]\.bin[\\/]?$/.test(dir) && !/[\\/]node-gyp-bin[\\/]?$/.test(dir))
    .join(delimiter);
}

/** A command as a client would find it: a path that is executable, or a name on the PATH (with Windows' suffixes). */
export function which(command: string, pathVar = process.env.PATH ?? ''): string | null {
  if (isAbsolute(command) || command.includes('/') || command.includes('\\')) return executable(command) ? command : null;
  const suffixes = process.platform === 'win32' ? ['', '.cmd', '.exe', '.bat'] : [''];
  for (const dir of pathVar.split(delimiter).filter(Boolean)) {
    for (const suffix of suffixes) if (executable(join(dir, command + suffix))) return join(dir, command + suffix);
  }
  return null;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
