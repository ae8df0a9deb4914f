/**
 * The local stage's admin API (`/_local/...`): a table of routes (method, path pattern, handler), matched with the
 * same route grammar as the services' HTTP routes. The admin index lists the table; a new operation is a new row.
 */
import { EventSchemaError } from "../../runtime/errors";
import { AwsServiceError } from "../aws";
import { RouteTable } from "./routes";

/** What an admin handler gets. */
export interface AdminRequest {
  /** Path parameters of the route's pattern (`{name}`), decoded. */
  params: Record<string, string>;
  /** The request body (empty when none). */
  body: Buffer;
}

/** An admin answer: status and JSON body. */
export interface AdminAnswer {
  status: number;
  body: unknown;
}

/** One admin operation. */
export interface AdminRoute {
  method: "GET" | "POST";
  /** Under `/_local`, with `{param}` segments: `/dlq/{name}/redrive`. */
  path: string;
  /** One line for the admin index. */
  describe: string;
  handle(request: AdminRequest): AdminAnswer | Promise<AdminAnswer>;
}

/** The admin routes, matched like API Gateway routes; errors become AWS-like JSON answers. */
export class AdminRoutes {
  private readonly table = new RouteTable<AdminRoute>();

  constructor(readonly routes: readonly AdminRoute[]) {
    for (const route of routes) this.table.add(`${route.method} /_local${route.path === "/" ? "" : route.path}`, route, "the admin API");
  }

  /** `"METHOD /_local/path": description`, in table order (the admin index). */
  operations(): Record<string, string> {
    return Object.fromEntries(this.routes.map((r) => [`${r.method} /_local${r.path.replace(/\{(\w+)\}/g, "<$1>")}`, r.describe]));
  }

  /** Answers a request under `/_local`; `undefined` when no route matches (the caller answers 404). */
  async answer(method: string, path: string, body: Buffer): Promise<AdminAnswer | undefined> {
    const match = this.table.match(method, path === "/_local/" ? "/_local" : path);
    if (!match) return undefined;
    try {
      return await match.target.handle({ params: match.pathParameters, body });
    } catch (error) {
      if (error instanceof EventSchemaError) return { status: 400, body: { message: error.message, issues: error.issues } };
      if (error instanceof AwsServiceError) {
        return { status: error.code === "NotFound" || error.code === "ResourceNotFoundException" ? 404 : 400, body: { message: error.message, code: error.code } };
      }
      throw error;
    }
  }
}

/** Reads a JSON object body; throws a 400-worthy error naming the expected shape. */
export function jsonBody<T extends object>(body: Buffer, shape: string): T {
  try {
    const value: unknown = JSON.parse(body.toString("utf8") || "{}");
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value as T;
  } catch {
    throw new AwsServiceError("InvalidParameter", `the body must be JSON: ${shape}`);
  }
}
