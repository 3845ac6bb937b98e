/*
 * Imports nothing, so the dashboard can import this file itself in the browser (the rest of shared needs Node);
 * clients pass a route's declared path, which their types check against the contract (RouteRequest, RouteAt).
 */

/**
 * The URL of a route below the API's base: `/api/` + its declared path with each `{name}` segment filled in
 * (encoded), and every other parameter given a value in the query string (undefined, null and '' are left out).
 */
export function routeUrl(path: string, params: Readonly<Record<string, string | number | null | undefined>> = {}): string {
  const inPath = new Set<string>();
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    inPath.add(name);
    const value = params[name];
    if (value === undefined || value === null || value === '') throw new Error(`routeUrl: ${path} needs ${name}`);
    return encodeURIComponent(String(value));
  });
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (!inPath.has(name) && value !== undefined && value !== null && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return `/api/${filled}${text ? `?${text}` : ''}`;
}
