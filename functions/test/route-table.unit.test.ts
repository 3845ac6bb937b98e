import { apiRoutes } from '@km/shared';
import { httpRouteSpecs } from '../src/routes';

describe('the route table', () => {
  it('serves every route the contract declares, once each, with its method and path', () => {
    const served = httpRouteSpecs.map((spec) => `${spec.name} ${spec.methods.join(',')} ${spec.route}`);
    expect(served).toEqual(apiRoutes.map((route) => `${route.name} ${route.method} ${route.path}`));
  });
});
