import { appendFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { redactText } from '@km/shared/dist/risk/rules';

/**
 * km's own diagnostics. Never stdout (it carries the MCP server's bytes); stderr only with KM_DEBUG; always
 * the log file under KM_HOME, so a user can see what happened after the fact.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const MAX_LOG_BYTES = 5 * 1024 * 1024;

export function fileLogger(home: string, debug: boolean, tag: string = `km[${process.pid}]`): Logger {
  const path = join(home, 'km.log');
  try {
    if (statSync(path).size > MAX_LOG_BYTES) renameSync(path, path + '.1');
  } catch {
    // no log yet
  }
  const write = (level: string, message: string) => {
    // Messages carry server command lines and server error text: redacted here, once for every line.
    const line = `${new Date().toISOString()} ${tag} ${level} ${redactText(message)}\n`;
    try {
      appendFileSync(path, line, { mode: 0o600 });
    } catch {
      // Logging must never take the session down.
    }
    if (debug) process.stderr.write(line);
  };
  return {
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}
