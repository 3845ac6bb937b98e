import type { HttpRoute } from '../routes';

export type RouteMatch =
  | { kind: 'found'; route: HttpRoute; params: Record<string, string> }
  | { kind: 'wrong-method'; allowed: string[] }
  | { kind: 'bad-path'; message: string }
  | { kind: 'not-found' };

type Segment = { literal: string } | { param: string };

/**
 * Matches paths below `/api/` against Azure route templates, the subset our route table uses: literal segments
 * and `{name}` parameters (a `:constraint` is accepted and not enforced). Anything else is refused when the table
 * is compiled, so a new template can never silently stop matching in the embedded host.
 */
export function compileRouteMatcher(routes: readonly HttpRoute[]): (method: string, apiPath: string) => RouteMatch {
  const compiled = routes.map((route) => ({ route, segments: parseTemplate(route.route) }));
  return (method, apiPath) => {
    const parts = apiPath.split('/');
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // `sessions/` is `sessions`
    const allowed = new Set<string>();
    for (const { route, segments } of compiled) {
      const params = matchSegments(segments, parts);
      if (params === null) continue;
      if (params instanceof Error) return { kind: 'bad-path', message: params.message };
      if (route.methods.includes(method as never)) return { kind: 'found', route, params };
      route.methods.forEach((allowedMethod) => allowed.add(allowedMethod));
    }
    return allowed.size > 0 ? { kind: 'wrong-method', allowed: [...allowed] } : { kind: 'not-found' };
  };
}

function parseTemplate(template: string): Segment[] {
  return template.split('/').map((part) => {
    const param = /^\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}?*]+)?\}$/.exec(part);
    if (param) return { param: param[1]! };
    if (/^[A-Za-z0-9._~-]+$/.test(part)) return { literal: part.toLowerCase() };
    throw new Error(`route template "${template}": segment "${part}" is not supported by the embedded host`);
  });
}

/** Route literals are case-insensitive, as in Azure; parameters are percent-decoded. */
function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | Error | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    const part = parts[i]!;
    if ('literal' in segment) {
      if (part.toLowerCase() !== segment.literal) return null;
      continue;
    }
    if (part === '') return null;
    try {
      params[segment.param] = decodeURIComponent(part);
    } catch {
      return new Error(`the path segment "${part}" is not valid percent-encoding`);
    }
  }
  return params;
}
