import { loadActivity } from '../load-activity';
import { filtersKey, rememberTools, type Filters } from '../filters';
import { useQuery } from '../query';

export const activityQueryKey = (filters: Filters) => filtersKey(filters);

/** Sessions of the range and what the latency read model says of their calls (activity.ts), polled. */
export function useActivity(filters: Filters) {
  return useQuery(`activity ${activityQueryKey(filters)}`, async () => {
    const result = await loadActivity(filters);
    if (result.kind === 'ok') rememberTools((result.data.latency?.tools ?? []).map((group) => group.tool));
    return result;
  });
}
