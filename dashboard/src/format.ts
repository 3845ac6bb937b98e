/** Numbers as people read them; "—" where there is nothing to show. */
export const DASH = '—';

export function fmtInt(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? DASH : Math.round(value).toLocaleString('en-US');
}

export function fmtMs(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  if (value === 0) return '0 ms';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
  return `${(value / 60_000).toFixed(1)} min`;
}

/** What km could not record, in the words the Journey and session views use. */
export function fmtDropped(count: number): string {
  return `${fmtInt(count)} observation${count === 1 ? '' : 's'} dropped`;
}

export function fmtBytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KB`;
  return `${(value / 1024 / 1024).toFixed(1)} MB`;
}

/** Costs of single calls are fractions of a cent: keep enough digits to tell them apart. */
export function fmtUsd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  if (value === 0) return '$0.00';
  if (Math.abs(value) < 0.01) return `$${value.toFixed(4)}`;
  if (Math.abs(value) < 100) return `$${value.toFixed(2)}`;
  return `$${Math.round(value).toLocaleString('en-US')}`;
}

export function fmtPct(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return DASH;
  return `${(ratio * 100).toFixed(digits)}%`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? DASH : time.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtDateTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return DASH;
  const sameDay = time.toDateString() === new Date().toDateString();
  return sameDay ? fmtTime(iso) : time.toLocaleString('en-GB', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export interface Delta {
  text: string;
  /** 'up' and 'down' say where the number went; whether that is good depends on the metric. */
  direction: 'up' | 'down' | 'flat';
}

export function delta(current: number | null, previous: number | null): Delta | null {
  if (current === null || previous === null || !Number.isFinite(current) || !Number.isFinite(previous)) return null;
  if (current === previous) return { text: '±0%', direction: 'flat' };
  if (previous === 0) return { text: 'new', direction: 'up' };
  const change = (current - previous) / Math.abs(previous);
  return { text: `${change > 0 ? '+' : ''}${(change * 100).toFixed(Math.abs(change) < 0.1 ? 1 : 0)}%`, direction: change > 0 ? 'up' : 'down' };
}
