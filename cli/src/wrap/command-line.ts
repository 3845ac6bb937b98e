import { redactText } from '@km/shared/dist/risk/rules';

/** Flags whose next argument is a secret: `--password X`, `--api-key X`, `-t X` is too vague to judge. */
const SECRET_FLAG = /^--?[\w-]*(pass(word)?|secret|token|api[-_]?key|access[-_]?key|auth|credential)[\w-]*$/i;

/**
 * The server's command line as it may leave the machine (it is in every event): values of secret-named flags are
 * dropped, and the rest goes through the same rules as any other text (DSNs with passwords, key=value, tokens).
 */
export function redactedCommandLine(command: string, args: readonly string[]): string {
  const words = [command, ...args].map((word, i, all) => (i > 0 && SECRET_FLAG.test(all[i - 1]!) && !word.startsWith('-') ? '[REDACTED:flag-value]' : word));
  return redactText(words.join(' '));
}
