/**
 * The grammar of API Gateway HTTP API route keys and the way a request finds its route, defined once: the Pulumi
 * component checks keys with it, the runtime's router and the local stage's gateway match requests with it.
 *
 * A key is `"<METHOD> /path"` (or `$default`): METHOD one of {@link HTTP_METHODS} (`ANY` for every method), path
 * segments plain (`orders`) or a parameter (`{orderId}`), a greedy parameter (`{proxy+}`) only as the last segment
 * (AWS's developer guide, "Create routes for HTTP APIs": "The greedy path variable must be at the end of the
 * resource path").
 *
 * Selection, as that guide orders it: a full match of route and method first, then a match through a greedy path
 * variable, then `$default`. Among full matches the more literal route wins (`GET /pets/dog/1` over
 * `GET /pets/dog/{id}`), and a route naming the method wins over `ANY` ("the ANY method matches all methods that you
 * haven't defined for a resource"). Parameters are URL-decoded ("API Gateway decodes URL-encoded request parameters
 * before passing them to your backend integration"); a trailing slash is ignored.
 */

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
/** `"<METHOD> /path"`, path parameters in braces: `"GET /orders/{orderId}"`, a greedy last one as `{proxy+}`. */
export type RouteKey = `${HttpMethod} /${string}`;
/** The catch-all route key. */
export const DEFAULT_ROUTE = "$default";
/** Methods that change nothing (RFC 9110 "safe"): their routes are queries, every other route a command. */
export const SAFE_HTTP_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** One segment of a route's path. */
export type RouteSegment = { kind: "literal"; value: string } | { kind: "param"; name: string } | { kind: "greedy"; name: string };

export interface ParsedRouteKey {
  key: RouteKey;
  method: HttpMethod;
  /** The path as written (`/orders/{orderId}`). */
  path: string;
  segments: RouteSegment[];
}

/** A route key that breaks the grammar; the message names the key and what is wrong with it. */
export class RouteKeyError extends Error {
  override name = "RouteKeyError";
}

const LITERAL = /^[A-Za-z0-9._~-]+$/;
const PARAM = /^\{([A-Za-z][A-Za-z0-9_]*)(\+)?\}$/;

/**
 * Parses and checks one route key (not `$default`).
 * @throws RouteKeyError naming the key and what is wrong with it
 */
export function parseRouteKey(key: string): ParsedRouteKey {
  const match = /^([A-Z]+) (\/.*)$/.exec(key);
  const method = match?.[1] as HttpMethod | undefined;
  const path = match?.[2];
  if (!method || !path || !(HTTP_METHODS as readonly string[]).includes(method)) {
    throw new RouteKeyError(`route "${key}" must be "<METHOD> /path" with METHOD one of ${HTTP_METHODS.join(", ")}`);
  }
  const raw = path === "/" ? [] : path.split("/").slice(1);
  const segments = raw.map((segment, i): RouteSegment => {
    const param = PARAM.exec(segment);
    if (param) {
      if (param[2] && i !== raw.length - 1) throw new RouteKeyError(`route "${key}": a greedy parameter ${segment} must be the last segment`);
      return param[2] ? { kind: "greedy", name: param[1]! } : { kind: "param", name: param[1]! };
    }
    if (!LITERAL.test(segment)) throw new RouteKeyError(`route "${key}": path segment "${segment}" is not a plain segment or a {parameter}`);
    return { kind: "literal", value: segment };
  });
  return { key: key as RouteKey, method, path, segments };
}

/** The method of a route key, or undefined for `$default` and anything that is not a route key. */
export function methodOfRouteKey(key: string): HttpMethod | undefined {
  return isRouteKey(key) ? parseRouteKey(key).method : undefined;
}

/** Whether a key parses (a type guard for `RouteKey`). */
export function isRouteKey(key: string): key is RouteKey {
  try {
    parseRouteKey(key);
    return true;
  } catch {
    return false;
  }
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The path parameters a route captures from a request path, or undefined when the path does not fit it. */
export function matchRoutePath(route: ParsedRouteKey, requestPath: string): Record<string, string> | undefined {
  const trimmed = requestPath.replace(/\/+$/, "");
  const parts = trimmed === "" ? [] : trimmed.split("/").slice(1);
  const parameters: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i]!;
    if (segment.kind === "greedy") {
      const rest = parts.slice(i);
      if (rest.length === 0) return undefined;
      parameters[segment.name] = rest.map(decode).join("/");
      return parameters;
    }
    const part = parts[i];
    if (part === undefined || part === "") return undefined;
    if (segment.kind === "param") parameters[segment.name] = decode(part);
    else if (segment.value !== part) return undefined;
  }
  return parts.length === route.segments.length ? parameters : undefined;
}

/** Negative when `a` is chosen before `b`: full matches before greedy ones, more literal first, a method before ANY. */
export function compareRouteSpecificity(a: ParsedRouteKey, b: ParsedRouteKey): number {
  const greedy = (r: ParsedRouteKey) => (r.segments.at(-1)?.kind === "greedy" ? 1 : 0);
  const literals = (r: ParsedRouteKey) => r.segments.filter((s) => s.kind === "literal").length;
  const byKind = greedy(a) - greedy(b) || literals(b) - literals(a) || b.segments.length - a.segments.length;
  if (byKind !== 0) return byKind;
  const any = (r: ParsedRouteKey) => (r.method === "ANY" ? 1 : 0);
  if (any(a) !== any(b)) return any(a) - any(b);
  // Left to right, a literal segment before a parameter (`/a/b/{c}` before `/a/{b}/c`), so the order never depends
  // on the order the routes were declared in.
  for (let i = 0; i < a.segments.length; i++) {
    const [x, y] = [a.segments[i]!.kind === "literal" ? 0 : 1, b.segments[i]!.kind === "literal" ? 0 : 1];
    if (x !== y) return x - y;
  }
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** A route that matched a request and the path parameters it captured. */
export interface RouteMatch<T> {
  /** The matched key, or `$default`. */
  key: RouteKey | typeof DEFAULT_ROUTE;
  target: T;
  pathParameters: Record<string, string>;
}

/**
 * Routes matched against requests the way API Gateway selects them (see the module's comment). Keys are checked on
 * `add`; a key added twice throws.
 */
export class RouteMatcher<T> {
  private readonly routes: { parsed: ParsedRouteKey; target: T }[] = [];
  private readonly byKey = new Map<string, { parsed: ParsedRouteKey; target: T }>();
  private fallback: T | undefined;
  private hasFallback = false;

  /** @throws RouteKeyError for a key that breaks the grammar or is already taken */
  add(key: string, target: T): this {
    if (key === DEFAULT_ROUTE) {
      if (this.hasFallback) throw new RouteKeyError(`route "${key}" is declared twice`);
      this.fallback = target;
      this.hasFallback = true;
      return this;
    }
    const parsed = parseRouteKey(key);
    if (this.byKey.has(key)) throw new RouteKeyError(`route "${key}" is declared twice`);
    const entry = { parsed, target };
    this.byKey.set(key, entry);
    this.routes.push(entry);
    this.routes.sort((a, b) => compareRouteSpecificity(a.parsed, b.parsed));
    return this;
  }

  /** Every key, in the order requests try them (`$default` last). */
  keys(): string[] {
    return [...this.routes.map((r) => r.parsed.key), ...(this.hasFallback ? [DEFAULT_ROUTE] : [])];
  }

  /** The route a key names (as API Gateway reports it in `routeKey`), if declared. */
  byRouteKey(key: string): { parsed: ParsedRouteKey; target: T } | undefined {
    return this.byKey.get(key);
  }

  /** The route for a request, or undefined (API Gateway answers 404 `{"message":"Not Found"}`). */
  match(method: string, path: string): RouteMatch<T> | undefined {
    const wanted = method.toUpperCase();
    for (const { parsed, target } of this.routes) {
      if (parsed.method !== "ANY" && parsed.method !== wanted) continue;
      const pathParameters = matchRoutePath(parsed, path);
      if (pathParameters) return { key: parsed.key, target, pathParameters };
    }
    return this.hasFallback ? { key: DEFAULT_ROUTE, target: this.fallback as T, pathParameters: {} } : undefined;
  }
}

/** The `execute-api` ARN tail of a route: `<METHOD or *>/<path with each parameter as *>` (greedy ones too). */
export function routeArnPath(method: HttpMethod, path: string): string {
  const resource = path
    .split("/")
    .slice(1)
    .map((segment) => (segment.startsWith("{") ? "*" : segment))
    .join("/");
  return `${method === "ANY" ? "*" : method}/${resource}`;
}
