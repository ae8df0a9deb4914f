/**
 * Route selection as an API Gateway HTTP API does it, with the one route grammar of `shared/contract/route-key.ts`
 * (the runtime's router and the Pulumi component use the same): `METHOD /path` keys with `{param}` segments and a
 * greedy last `{proxy+}`, `ANY` for every method, `$default` for everything else; the most specific route wins.
 * What the local stage adds: every service's API is served on one port, so a key two APIs declare is refused.
 */
import { RouteMatcher, RouteKeyError } from "../../contract/route-key";

/** A route that matched a request. */
export interface RouteMatch<T> {
  routeKey: string;
  target: T;
  pathParameters: Record<string, string>;
}

/** Routes of every HTTP API, matched against requests. */
export class RouteTable<T> {
  private readonly matcher = new RouteMatcher<T>();
  private readonly owners = new Map<string, string>();

  /**
   * Adds a route; a key already taken (by another service's API: the local stage serves them all on one port) throws.
   * @param owner names who declared it, for the error
   */
  add(routeKey: string, target: T, owner: string): void {
    const taken = this.owners.get(routeKey);
    if (taken !== undefined) {
      throw new Error(`route "${routeKey}" is declared by both ${taken} and ${owner}: the local stage serves every API on one port, so route keys must be unique`);
    }
    try {
      this.matcher.add(routeKey, target);
    } catch (error) {
      if (error instanceof RouteKeyError) throw new RouteKeyError(`${error.message} (declared by ${owner})`);
      throw error;
    }
    this.owners.set(routeKey, owner);
  }

  /** Every route key, most specific first (`$default` last). */
  keys(): string[] {
    return this.matcher.keys();
  }

  /** The route for a request, or `undefined` (API Gateway answers 404 `{"message":"Not Found"}`). */
  match(method: string, rawPath: string): RouteMatch<T> | undefined {
    const found = this.matcher.match(method, rawPath);
    return found && { routeKey: found.key, target: found.target, pathParameters: found.pathParameters };
  }
}
