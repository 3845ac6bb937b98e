/** What km exits with when it was given arguments it cannot act on (a wrap's and every command's). */
export const USAGE_EXIT_CODE = 2;

/** Thrown by a command for input it cannot act on (a file that cannot be read, a bad --key): km exits 2 with its message. */
export class UsageError extends Error {}
