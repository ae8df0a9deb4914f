/**
 * The local stage's console: a page in the browser at `/_local/console` (and at `/_local/` for a browser, by its
 * Accept header), built from the same data as the admin API. This module serves the page, its script (bundled by
 * esbuild from `./app/`, in memory, once per stage), the flow diagram of the running programs, and the live trace
 * stream (server-sent events fed by the trace recorder); the console's data (the catalog's JSON Schemas, the tables'
 * items by entity) are admin rows like any other. Nothing is fetched from the network.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { build } from "esbuild";
import { flowDiagramSvg } from "../../catalog/diagram";
import { jsonSchemaOf, type CatalogLike } from "../../catalog/document";
import { catalog } from "../../contract/catalog";
import { FAILURE_EVENT_TYPE } from "../../contract/failure-event";
import type { AdminRoute } from "../stage/admin";
import { dynamoRequest } from "../stage/dynamodb";
import { LOCAL_STAGE, type ProgramResult } from "../stage/programs";
import type { TraceRecorder, TraceTree } from "../stage/trace";

/** Where the console lives under the admin API. */
export const CONSOLE_PATH = "/_local/console";
/** The live trace stream (server-sent events, `event: trace`, data: a trace tree as JSON). */
export const EVENTS_PATH = "/_local/events";
/** Trees sent to a new stream subscriber first (the latest ones). */
const REPLAY_TREES = 25;
/** Items read per table for the console (a local stage holds test data, not a production table). */
export const MAX_TABLE_ITEMS = 1000;

/** What the console needs of the running stage. */
export interface ConsoleStage {
  readonly programs: readonly ProgramResult[];
  readonly endpoints: { dynalite: string };
  readonly wiring: { region: string; tables: readonly { name: string; hashKey: string; origin: { project: string } }[] };
}

/** One catalog event as the publish form reads it. */
export interface CatalogEventForm {
  type: string;
  version: number;
  owner: string;
  description: string;
  ordering: string;
  /** JSON Schema (draft 7) of `data`, from the catalog's zod schema (as the AsyncAPI document has it). */
  schema: unknown;
  example: unknown;
}

/** The catalog's events, each with its data's JSON Schema and example (the publish form). */
export function catalogForms(events: CatalogLike = catalog as unknown as CatalogLike): CatalogEventForm[] {
  return Object.keys(events)
    .sort()
    .map((type) => {
      const entry = events[type]!;
      return {
        type,
        version: entry.version,
        owner: entry.owner,
        description: entry.description,
        ordering: entry.ordering,
        schema: jsonSchemaOf(entry.schema),
        example: entry.example,
      };
    });
}

/** A table's items grouped by the service their keys belong to and the ElectroDB entity (`__edb_e__`) they are. */
export interface TableContents {
  table: string;
  /** The program that declared it. */
  project: string;
  /** Items read (at most MAX_TABLE_ITEMS). */
  count: number;
  truncated: boolean;
  services: { service: string; entities: { entity: string; items: Record<string, unknown>[] }[] }[];
}

/** The service an item belongs to: its partition key's prefix (`$billing#…` ElectroDB, `billing#…` the idempotency records). */
function serviceOfItem(item: Record<string, unknown>, hashKey: string | undefined): string {
  const key = hashKey ? item[hashKey] : undefined;
  const text = typeof key === "string" ? key : "";
  const match = /^\$?([a-z0-9-]+)#/.exec(text);
  return match?.[1] ?? "(other)";
}

/** Reads every table of the stage past IAM (dynalite directly), grouped by service and entity. */
export async function tableContents(stage: ConsoleStage): Promise<TableContents[]> {
  const out: TableContents[] = [];
  for (const table of stage.wiring.tables) {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    let truncated = false;
    do {
      const page = await dynamoRequest<{ Items?: Record<string, AttributeValue>[]; LastEvaluatedKey?: Record<string, AttributeValue> }>(stage.endpoints.dynalite, "Scan", {
        TableName: table.name,
        Limit: 200,
        ...(start ? { ExclusiveStartKey: start } : {}),
      });
      for (const item of page.Items ?? []) items.push(unmarshall(item));
      start = page.LastEvaluatedKey;
      if (items.length >= MAX_TABLE_ITEMS) {
        truncated = start !== undefined || items.length > MAX_TABLE_ITEMS;
        break;
      }
    } while (start);
    const { hashKey } = table;
    const services = new Map<string, Map<string, Record<string, unknown>[]>>();
    for (const item of items.slice(0, MAX_TABLE_ITEMS)) {
      const service = serviceOfItem(item, hashKey);
      const entity = typeof item.__edb_e__ === "string" ? item.__edb_e__ : "(records)";
      const entities = services.get(service) ?? new Map<string, Record<string, unknown>[]>();
      entities.set(entity, [...(entities.get(entity) ?? []), item]);
      services.set(service, entities);
    }
    out.push({
      table: table.name,
      project: table.origin.project,
      count: Math.min(items.length, MAX_TABLE_ITEMS),
      truncated,
      services: [...services.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([service, entities]) => ({
          service,
          entities: [...entities.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([entity, list]) => ({ entity, items: list })),
        })),
    });
  }
  return out;
}

/** The flow diagram of the running programs (stage `local`), laid out once per set of program runs. */
function diagramCache(): (programs: readonly ProgramResult[]) => Promise<string> {
  let cached: { programs: readonly ProgramResult[]; svg: Promise<string> } | undefined;
  return (programs) => {
    if (cached?.programs !== programs) {
      const svg = flowDiagramSvg(
        programs.map((p) => ({ project: p.project, resources: p.resources })),
        {
          stage: LOCAL_STAGE,
          eventTypes: [...Object.entries(catalog).map(([type, entry]) => ({ type, fifo: entry.ordering === "fifo" })), { type: FAILURE_EVENT_TYPE, fifo: false }],
          title: "Flow of the running stage",
        },
      );
      svg.catch(() => undefined);
      cached = { programs, svg };
    }
    return cached.svg;
  };
}

/** The console's script: `app/main.ts` bundled by esbuild for the browser (built once, on first request). */
function scriptBundle(): () => Promise<string> {
  let bundle: Promise<string> | undefined;
  return () => {
    bundle ??= build({
      entryPoints: [join(__dirname, "app", "main.ts")],
      bundle: true,
      write: false,
      format: "iife",
      platform: "browser",
      target: "es2022",
      minify: false,
      sourcemap: false,
      logLevel: "silent",
    }).then((result) => result.outputFiles[0]!.text);
    bundle.catch(() => (bundle = undefined));
    return bundle;
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(body)), "cache-control": "no-store" });
  res.end(body);
}

/** Whether a request to `/_local/` comes from a browser that wants a page (its Accept header names HTML first). */
export function wantsHtml(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? "");
  return /^\s*text\/html/i.test(accept) || (accept.includes("text/html") && !accept.includes("application/json"));
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * Why a browser's request that changes something must be refused, or undefined: the admin API acts on the stage
 * (publish, redrive, replay), so a page of another site must not make the browser send it one (cross-site request
 * forgery), nor reach it through a name of its own that resolves to this machine (DNS rebinding). Only requests a
 * browser marks (`Origin`, `Sec-Fetch-Site`) are judged: tools (the CLI, curl, SDKs) send neither.
 */
export function crossSiteRefusal(req: IncomingMessage): string | undefined {
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return undefined;
  const origin = req.headers.origin;
  const site = req.headers["sec-fetch-site"];
  if (origin === undefined && site === undefined) return undefined;
  const host = String(req.headers.host ?? "");
  const hostname = host.replace(/:\d+$/, "");
  if (!LOOPBACK.has(hostname)) return `the admin API answers browsers only at a loopback address (127.0.0.1, localhost), not ${host || "an unnamed host"}`;
  if (site !== undefined && site !== "same-origin" && site !== "none") return `the admin API refuses a ${site} request from a browser`;
  if (origin !== undefined) {
    let originHost: string;
    try {
      originHost = new URL(String(origin)).host;
    } catch {
      return `the admin API refuses a request from origin ${String(origin)}`;
    }
    if (originHost !== host) return `the admin API refuses a request from another origin (${String(origin)})`;
  }
  return undefined;
}

/** The console: its admin rows, the requests it serves itself, and its live streams (ended when the stage stops). */
export interface ConsoleServer {
  /** Admin rows: the catalog's forms, the tables' items. */
  routes: AdminRoute[];
  /** Serves `path` when it is the console's (page, script, diagram, event stream); false when it is not. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** Open event streams. */
  readonly streams: number;
  /** Ends every event stream (the stage is stopping). */
  close(): void;
}

export function consoleServer(options: { stage: () => ConsoleStage; recorder: TraceRecorder }): ConsoleServer {
  const { recorder } = options;
  const diagram = diagramCache();
  const script = scriptBundle();
  const page = readFileSync(join(__dirname, "app", "index.html"), "utf8");
  const streams = new Set<ServerResponse>();

  const stream = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    const write = (tree: TraceTree) => res.write(`event: trace\ndata: ${JSON.stringify(tree)}\n\n`);
    res.write("retry: 1000\n\n");
    for (const id of recorder.correlationIds().slice(-REPLAY_TREES)) {
      const tree = recorder.tree(id);
      if (tree && tree.roots.length) write(tree);
    }
    res.write("event: ready\ndata: {}\n\n");
    const stop = recorder.watch(write);
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
    heartbeat.unref();
    streams.add(res);
    const end = () => {
      stop();
      clearInterval(heartbeat);
      streams.delete(res);
    };
    req.on("close", end);
    res.on("close", end);
  };

  const serve = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") return false;
    if (path === EVENTS_PATH) {
      stream(req, res);
      return true;
    }
    if (path === CONSOLE_PATH || path === `${CONSOLE_PATH}/` || ((path === "/_local" || path === "/_local/") && wantsHtml(req))) {
      send(res, 200, "text/html; charset=utf-8", page);
      return true;
    }
    if (path === `${CONSOLE_PATH}/app.js`) {
      script().then(
        (text) => send(res, 200, "text/javascript; charset=utf-8", text),
        (error: unknown) => send(res, 500, "text/plain; charset=utf-8", `the console's script does not build: ${(error as Error).message}`),
      );
      return true;
    }
    if (path === `${CONSOLE_PATH}/flow.svg`) {
      diagram(options.stage().programs).then(
        (svg) => send(res, 200, "image/svg+xml; charset=utf-8", svg),
        (error: unknown) => send(res, 500, "text/plain; charset=utf-8", `the flow diagram could not be laid out: ${(error as Error).message}`),
      );
      return true;
    }
    return false;
  };

  const routes: AdminRoute[] = [
    { method: "GET", path: "/catalog", describe: "every catalog event with its data's JSON Schema and example (the console's publish form)", handle: () => ({ status: 200, body: { events: catalogForms() } }) },
    {
      method: "GET",
      path: "/tables",
      describe: `every table's items (at most ${MAX_TABLE_ITEMS} each, read past IAM) by service and ElectroDB entity`,
      handle: async () => ({ status: 200, body: { tables: await tableContents(options.stage()) } }),
    },
  ];

  return {
    routes,
    serve,
    get streams() {
      return streams.size;
    },
    close() {
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
