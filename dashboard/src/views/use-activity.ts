import { loadActivity } from '../load-activity';
import { filtersKey, rememberTools, type Filters } from '../filters';
import { useQuery } from '../query';

export const activityQueryKey = (filters: Filters) => filtersKey(filters);

/** Sessions and interactions of the range (activity.ts), polled. */
export function useActivity(filters: Filters) {
  return useQuery(`activity ${activityQueryKey(filters)}`, async () => {
    const result = await loadActivity(filters);
    if (result.kind === 'ok') rememberTools(result.data.interactions.map((i) => (i.method === 'tools/call' ? i.target : null)));
    return result;
  });
}
