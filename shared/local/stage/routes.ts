/**
 * Route selection as an API Gateway HTTP API does it: `METHOD /path` keys with `{param}` segments and a greedy last
 * `{proxy+}`, `ANY` for every method, `$default` for everything else; the most specific route wins.
 */

/** A compiled route. */
export interface CompiledRoute<T> {
  routeKey: string;
  method: string;
  segments: string[];
  target: T;
  /** Sort key: higher is more specific. */
  rank: number[];
}

/** A route that matched a request. */
export interface RouteMatch<T> {
  routeKey: string;
  target: T;
  pathParameters: Record<string, string>;
}

/** Routes of every HTTP API, matched against requests. */
export class RouteTable<T> {
  private readonly routes: CompiledRoute<T>[] = [];
  private readonly owners = new Map<string, string>();
  private fallback: { routeKey: string; target: T } | undefined;

  /**
   * Adds a route; a key already taken (by another service's API: the local stage serves them all on one port) throws.
   * @param owner names who declared it, for the error
   */
  add(routeKey: string, target: T, owner: string): void {
    const taken = this.owners.get(routeKey);
    if (taken !== undefined) {
      throw new Error(`route "${routeKey}" is declared by both ${taken} and ${owner}: the local stage serves every API on one port, so route keys must be unique`);
    }
    this.owners.set(routeKey, owner);
    if (routeKey === "$default") {
      this.fallback = { routeKey, target };
      return;
    }
    const match = /^([A-Z]+) (\/.*)$/.exec(routeKey);
    if (!match) throw new Error(`route key "${routeKey}" is not "<METHOD> /path"`);
    const method = match[1]!;
    const segments = match[2] === "/" ? [] : match[2]!.split("/").slice(1);
    const greedy = segments.some((s) => s.endsWith("+}"));
    const literals = segments.filter((s) => !s.startsWith("{")).length;
    this.routes.push({ routeKey, method, segments, target, rank: [greedy ? 0 : 1, literals, segments.length, method === "ANY" ? 0 : 1] });
    this.routes.sort((a, b) => compareRank(b.rank, a.rank));
  }

  /** Every route key, most specific first (`$default` last). */
  keys(): string[] {
    return [...this.routes.map((r) => r.routeKey), ...(this.fallback ? [this.fallback.routeKey] : [])];
  }

  /** The route for a request, or `undefined` (API Gateway answers 404 `{"message":"Not Found"}`). */
  match(method: string, rawPath: string): RouteMatch<T> | undefined {
    const parts = rawPath === "/" || rawPath === "" ? [] : rawPath.replace(/\/+$/, "").split("/").slice(1);
    for (const route of this.routes) {
      if (route.method !== "ANY" && route.method !== method.toUpperCase()) continue;
      const parameters = matchSegments(route.segments, parts);
      if (parameters) return { routeKey: route.routeKey, target: route.target, pathParameters: parameters };
    }
    return this.fallback ? { routeKey: this.fallback.routeKey, target: this.fallback.target, pathParameters: {} } : undefined;
  }
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const parameters: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i]!;
    if (segment.endsWith("+}")) {
      const rest = parts.slice(i);
      if (rest.length === 0) return undefined;
      parameters[segment.slice(1, -2)] = rest.map(decode).join("/");
      return parameters;
    }
    const part = parts[i];
    if (part === undefined || part === "") return undefined;
    if (segment.startsWith("{")) parameters[segment.slice(1, -1)] = decode(part);
    else if (segment !== part) return undefined;
  }
  return parts.length === pattern.length ? parameters : undefined;
}
