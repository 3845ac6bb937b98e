import type { RecentInteraction } from '@km/shared';

/** One interaction as GET /api/interactions/recent returns it: the contract's type (a type only, nothing bundled). */
export type TailInteraction = Pick<
  RecentInteraction,
  'id' | 'sessionId' | 'server' | 'method' | 'tool' | 'target' | 'latencyMs' | 'requestBytes' | 'responseBytes' | 'outcome' | 'error' | 'startedAt'
> &
  Partial<Pick<RecentInteraction, 'abandoned'>>;

export interface TailStyle {
  /** ANSI colours: only when stdout is a terminal and NO_COLOR is unset. */
  color: boolean;
  /** Calls at least this slow are highlighted. */
  slowMs: number;
}

const ANSI = { red: 31, yellow: 33, magenta: 35, dim: 2, bold: 1 } as const;
const paint = (style: TailStyle, code: keyof typeof ANSI, text: string) => (style.color ? `\x1b[${ANSI[code]}m${text}\x1b[0m` : text);

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatLatency(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Pads to a column, or cuts with an ellipsis, so one long tool name does not push the rest out of line. */
const fit = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

/** `13:00:20.123 everything  tools/call slow   1.50 s   120 B > 340 B  ok` — one line per interaction. */
export function formatInteraction(interaction: TailInteraction, style: TailStyle): string {
  const time = interaction.startedAt.slice(11, 23);
  const what = [interaction.method, interaction.tool ?? interaction.target].filter(Boolean).join(' ');
  const latency = formatLatency(interaction.latencyMs).padStart(9);
  const slow = interaction.latencyMs !== null && interaction.latencyMs >= style.slowMs;
  const size = `${formatBytes(interaction.requestBytes)} > ${formatBytes(interaction.responseBytes)}`;
  return [
    paint(style, 'dim', time),
    fit(interaction.server, 12),
    fit(what, 48),
    slow ? paint(style, 'yellow', latency) : latency,
    size.padEnd(20),
    outcomeText(interaction, style),
  ].join('  ');
}

function outcomeText(interaction: TailInteraction, style: TailStyle): string {
  switch (interaction.outcome) {
    case 'ok':
      return 'ok';
    case 'error':
      return paint(style, 'red', `error ${interaction.error ? `${interaction.error.code} ${interaction.error.message}` : ''}`.trim());
    case 'tool_error':
      return paint(style, 'red', 'tool error');
    case 'unanswered':
      // The client ended the session before the answer: not the server's failure.
      return interaction.abandoned ? 'abandoned' : paint(style, 'magenta', 'no answer');
  }
}
