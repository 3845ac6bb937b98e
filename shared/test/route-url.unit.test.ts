import { routeUrl } from '@km/shared';

describe('routeUrl', () => {
  it('fills the path parameters (encoded) and puts the others in the query, leaving out the absent ones', () => {
    expect(routeUrl('sessions/{id}/interactions', { id: 'a b/c', limit: 5, projectId: undefined, userId: null, server: '' })).toBe('/api/sessions/a%20b%2Fc/interactions?limit=5');
    expect(routeUrl('cost', { groupBy: 'tool', tool: 'read&write' })).toBe('/api/cost?groupBy=tool&tool=read%26write');
    expect(routeUrl('sessions')).toBe('/api/sessions');
  });

  it('refuses a path without its parameter rather than asking for another route', () => {
    expect(() => routeUrl('sessions/{id}', {})).toThrow('sessions/{id} needs id');
  });
});
