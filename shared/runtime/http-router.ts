/** HTTP methods a route key may name; `ANY` matches every method. */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" | "ANY";

/** An API Gateway route key: `"POST /orders"`, `"GET /orders/{orderId}"`, `"ANY /files/{proxy+}"`. */
export type RouteKey = `${HttpMethod} /${string}`;

/** The route that matched a request and the path parameters its template captured. */
export interface RouteMatch<R> {
  readonly key: RouteKey;
  readonly route: R;
  readonly pathParameters: Record<string, string>;
}

interface CompiledRoute<R> {
  key: RouteKey;
  route: R;
  method: string;
  pattern: RegExp;
  names: string[];
  /** Literal characters in the template: the more, the more specific. */
  literal: number;
}

function compile<R>(key: RouteKey, route: R): CompiledRoute<R> {
  const space = key.indexOf(" ");
  const method = key.slice(0, space);
  const template = key.slice(space + 1);
  const names: string[] = [];
  let literal = 0;
  const source = template
    .split("/")
    .map((segment) => {
      const param = /^\{([A-Za-z0-9_.-]+)(\+)?\}$/.exec(segment);
      if (!param) {
        literal += segment.length;
        return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      }
      names.push(param[1]!);
      return param[2] ? "(.+)" : "([^/]+)";
    })
    .join("/");
  return { key, route, method, pattern: new RegExp(`^${source}/?$`), names, literal };
}

/**
 * Finds the route of a request. API Gateway names the matched route in `routeKey`; with the `$default` route (or
 * a local caller) the method and path are matched against the route templates, most specific first.
 */
export function createRouter<R>(routes: Readonly<Partial<Record<RouteKey, R>>>) {
  const compiled = (Object.entries(routes) as [RouteKey, R | undefined][])
    .filter((entry): entry is [RouteKey, R] => entry[1] !== undefined)
    .map(([key, route]) => compile(key, route))
    .sort((a, b) => a.names.length - b.names.length || b.literal - a.literal);

  const byKey = new Map(compiled.map((c) => [c.key as string, c]));

  function capture(candidate: CompiledRoute<R>, path: string): Record<string, string> | undefined {
    const found = candidate.pattern.exec(path);
    if (!found) return undefined;
    const params: Record<string, string> = {};
    candidate.names.forEach((name, i) => {
      const raw = found[i + 1]!;
      try {
        params[name] = decodeURIComponent(raw);
      } catch {
        params[name] = raw;
      }
    });
    return params;
  }

  return function match(
    routeKey: string | undefined,
    method: string,
    path: string,
    pathParameters?: Readonly<Record<string, string | undefined>>,
  ): RouteMatch<R> | undefined {
    const direct = routeKey ? byKey.get(routeKey) : undefined;
    if (direct) {
      // API Gateway matched the route and captured the parameters; a caller that only names the route gets them
      // from the path.
      const params: Record<string, string> = pathParameters ? {} : (capture(direct, path) ?? {});
      for (const [name, value] of Object.entries(pathParameters ?? {})) if (value !== undefined) params[name] = value;
      return { key: direct.key, route: direct.route, pathParameters: params };
    }
    for (const candidate of compiled) {
      if (candidate.method !== "ANY" && candidate.method !== method.toUpperCase()) continue;
      const params = capture(candidate, path);
      if (params) return { key: candidate.key, route: candidate.route, pathParameters: params };
    }
    return undefined;
  };
}
