import { getJson } from '../api';
import { useQuery } from '../query';

const days = (value: number | null) => (value === null ? 'kept for ever' : `kept ${value} day${value === 1 ? '' : 's'}`);

/** What the org keeps, at the foot of every view: raw events and previews, and the last sweep. */
export function RetentionNote() {
  const retention = useQuery('retention', () => getJson('retention', {}));
  if (retention.state.kind !== 'ok') return null;
  const { rawEventDays, previewDays, lastSweep } = retention.state.data;
  return (
    <footer class="retention muted" aria-label="Retention">
      Raw events {days(rawEventDays)}; previews {days(previewDays)}
      {lastSweep ? `; last sweep ${lastSweep.at.slice(0, 16).replace('T', ' ')} UTC removed ${lastSweep.eventsRemoved} events and ${lastSweep.previewsRemoved} previews` : ''}.
    </footer>
  );
}
