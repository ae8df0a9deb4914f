import { matchRoutePath, RouteMatcher, type HttpMethod, type RouteKey } from "../contract/route-key";

export type { HttpMethod, RouteKey };

/** The route that matched a request and the path parameters its template captured. */
export interface RouteMatch<R> {
  readonly key: RouteKey;
  readonly route: R;
  readonly pathParameters: Record<string, string>;
}

/**
 * Finds the route of a request, with the route grammar of `shared/contract/route-key.ts` (the one the Pulumi
 * component checks keys with and the local stage's gateway matches with). API Gateway names the matched route in
 * `routeKey`; with the `$default` route (or a local caller) the method and path are matched against the route
 * templates, most specific first.
 * @throws RouteKeyError at creation for a key that breaks the grammar
 */
export function createRouter<R>(routes: Readonly<Partial<Record<RouteKey, R>>>) {
  const matcher = new RouteMatcher<R>();
  for (const [key, route] of Object.entries(routes) as [RouteKey, R | undefined][]) {
    if (route !== undefined) matcher.add(key, route);
  }

  return function match(
    routeKey: string | undefined,
    method: string,
    path: string,
    pathParameters?: Readonly<Record<string, string | undefined>>,
  ): RouteMatch<R> | undefined {
    const direct = routeKey ? matcher.byRouteKey(routeKey) : undefined;
    if (direct) {
      // API Gateway matched the route and captured the parameters; a caller that only names the route gets them
      // from the path.
      const params: Record<string, string> = pathParameters ? {} : (matchRoutePath(direct.parsed, path) ?? {});
      for (const [name, value] of Object.entries(pathParameters ?? {})) if (value !== undefined) params[name] = value;
      return { key: direct.parsed.key, route: direct.target, pathParameters: params };
    }
    const found = matcher.match(method, path);
    return found && found.key !== "$default" ? { key: found.key, route: found.target, pathParameters: found.pathParameters } : undefined;
  };
}
