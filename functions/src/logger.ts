/** Diagnostics of the embedded host and the projector loop; the CLI passes its file logger (same shape). */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const stderrLogger: Logger = {
  info: (message) => process.stderr.write(`km info ${message}\n`),
  warn: (message) => process.stderr.write(`km warn ${message}\n`),
  error: (message) => process.stderr.write(`km error ${message}\n`),
};

export function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}
