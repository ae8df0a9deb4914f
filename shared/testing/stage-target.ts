import { execFileSync } from "node:child_process";
import { createHash, createHmac, randomUUID, type BinaryLike } from "node:crypto";
import { join } from "node:path";
import { DynamoDBClient, ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { topicName, catalog, type EventType } from "../contract";
import type * as LocalStageModule from "../local/stage";

/** What integration tests need from a stage, whether it runs here (`local`) or in AWS (`dev`, `ci-1234`, ...). */
export interface StageTarget {
  readonly stage: string;
  /**
   * The run's id, used as the correlation id of every event the tests cause, so their traces can be found:
   * the CI build id when there is one (`CI_BUILD_ID`, `GITHUB_RUN_ID`), else a new one.
   */
  readonly runId: string;
  /** Base URL of a service's HTTP API. */
  apiUrl(service: string): string;
  /**
   * Calls a route of a service's HTTP API, signed with SigV4 for `execute-api` as IAM-authorized routes (the
   * default) require: with the usual AWS credentials for a deployed stage, with placeholder ones locally.
   */
  request(service: string, path: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Response>;
  /** A service's items in the data table (its key prefix), optionally of one ElectroDB entity. */
  items(service: string, entity?: string): Promise<Record<string, any>[]>;
  /**
   * Events of `type` published with this correlation id, when the stage can show them (the local stage traces every
   * publish; a deployed stage answers `undefined`: check their effects instead).
   */
  publishedEvents(type: EventType, correlationId: string): Promise<{ id: string }[] | undefined>;
  stop(): Promise<void>;
}

/** Stack outputs as `pulumi stack output --json` prints them. */
export type StackOutputs = Record<string, any>;

export interface DeployedStageOptions {
  stage: string;
  /** Reads a stack's outputs. @default `pulumi stack output --json --stack <organization>/<project>/<stage>` */
  readOutputs?: (project: string, stage: string) => StackOutputs;
  /** @default `PULUMI_ORG`, else `organization` (what a self-managed backend uses) */
  organization?: string;
  /** DynamoDB client options (credentials and region come from the usual AWS environment). */
  dynamoEndpoint?: string;
  /** Credentials that sign requests to the stage's APIs. @default the AWS SDK's default chain */
  credentials?: () => Promise<Credentials>;
  runId?: string;
}

export function defaultRunId(): string {
  return process.env.CI_BUILD_ID ?? process.env.GITHUB_RUN_ID ?? `run-${randomUUID()}`;
}

/**
 * Waits until `probe` answers something other than `undefined`, polling; fails after `ms` naming what it waited for.
 * The default is a bound for a hang, not a measure: a path across services on a loaded machine (CI runs test files
 * side by side on 2 cores, each hop a cold start) takes seconds where a quiet one takes milliseconds.
 */
export async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let delay = 20;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 500);
  }
}

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/** SHA-256 (and HMAC-SHA-256 with a key) from node:crypto, in the shape the SigV4 signer takes. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): BinaryLike =>
  typeof data === "string" ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

export class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** The region of an `execute-api` URL (`https://<id>.execute-api.<region>.amazonaws.com`), else the environment's. */
export function apiRegion(url: URL): string {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
}

/** `fetch` with a SigV4 signature for `execute-api` (what API Gateway checks on IAM-authorized routes). */
export async function signedFetch(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  credentials: () => Promise<Credentials>,
): Promise<Response> {
  const target = new URL(url);
  const signer = new SignatureV4({ service: "execute-api", region: apiRegion(target), credentials, sha256: Sha256 });
  const query: Record<string, string> = {};
  target.searchParams.forEach((value, key) => (query[key] = value));
  const signed = await signer.sign({
    method: init.method ?? "GET",
    protocol: target.protocol,
    hostname: target.hostname,
    ...(target.port ? { port: Number(target.port) } : {}),
    path: target.pathname,
    query,
    headers: { ...init.headers, host: target.host },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const { host: _host, ...headers } = signed.headers;
  return fetch(target, { method: init.method ?? "GET", headers, ...(init.body !== undefined ? { body: init.body } : {}) });
}

async function scanPrefix(client: DynamoDBClient, table: string, prefix: string, entity?: string): Promise<Record<string, any>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        ExclusiveStartKey: start,
        ConsistentRead: true,
        FilterExpression: "begins_with(#pk, :prefix)",
        ExpressionAttributeNames: { "#pk": "pk" },
        ExpressionAttributeValues: { ":prefix": { S: prefix } },
      }),
    );
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out.map((item) => unmarshall(item)).filter((item) => entity === undefined || item.__edb_e__ === entity);
}

/**
 * A deployed stage, found through its stack outputs: the platform's (data table) and each service's (`apiUrl`).
 * Reads data with the AWS SDK and the usual AWS credentials. Scans the data table by key prefix: meant for `ci-*`
 * and dev stages, whose tables are small.
 */
export function deployedStage(options: DeployedStageOptions): StageTarget {
  const organization = options.organization ?? process.env.PULUMI_ORG ?? "organization";
  const readOutputs =
    options.readOutputs ??
    ((project: string, stage: string) =>
      JSON.parse(
        execFileSync("pulumi", ["stack", "output", "--json", "--stack", `${organization}/${project}/${stage}`], { encoding: "utf8" }),
      ) as StackOutputs);
  const cache = new Map<string, StackOutputs>();
  const outputsOf = (project: string) => {
    let outputs = cache.get(project);
    if (!outputs) {
      outputs = readOutputs(project, options.stage);
      cache.set(project, outputs);
    }
    return outputs;
  };
  const client = new DynamoDBClient(options.dynamoEndpoint ? { endpoint: options.dynamoEndpoint } : {});
  const credentials = options.credentials ?? defaultProvider();
  const apiUrl = (service: string) => {
    const url = outputsOf(service).apiUrl;
    if (typeof url !== "string") throw new Error(`the ${service} stack of stage ${options.stage} exports no apiUrl`);
    return url.replace(/\/$/, "");
  };
  return {
    stage: options.stage,
    runId: options.runId ?? defaultRunId(),
    apiUrl,
    request: (service, path, init = {}) => signedFetch(`${apiUrl(service)}${path}`, init, credentials),
    items(service, entity) {
      const table = outputsOf("platform").dataTable?.name;
      if (typeof table !== "string") throw new Error(`the platform stack of stage ${options.stage} exports no dataTable.name`);
      return scanPrefix(client, table, `$${service}#`, entity);
    },
    async publishedEvents() {
      return undefined;
    },
    async stop() {
      client.destroy();
    },
  };
}

/**
 * The local stage, started in this process (platform and every service, offline). `services` (folder names under
 * services/) starts only those: the services a test's path crosses, so it does not wait for the others' functions.
 */
export async function localStage(options: { runId?: string; services?: readonly string[] } = {}): Promise<StageTarget> {
  // Loaded only for the local stage: it brings Pulumi and the local engines with it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startLocalStage } = require("../local/stage") as typeof LocalStageModule;
  const serviceDirs = options.services?.map((service) => join(__dirname, "..", "..", "services", service));
  const stage = await startLocalStage({ port: 0, ...(serviceDirs ? { serviceDirs } : {}) });
  const client = new DynamoDBClient({
    region: "us-east-1",
    endpoint: stage.endpoints.dynalite,
    credentials: { accessKeyId: "integration-tests", secretAccessKey: "local" },
  });
  const platformOutputs = stage.programs[0]?.outputs as { dataTable?: { name?: string } } | undefined;
  const table = platformOutputs?.dataTable?.name ?? "local-data";
  return {
    stage: "local",
    runId: options.runId ?? defaultRunId(),
    apiUrl: () => stage.url,
    // Signed as for a deployed stage: the handler sees the caller, as it would behind an IAM route.
    request: (_service, path, init = {}) =>
      signedFetch(`${stage.url}${path}`, init, async () => ({ accessKeyId: "AKIAINTEGRATIONTESTS", secretAccessKey: "local" })),
    items: (service, entity) => scanPrefix(client, table, `$${service}#`, entity),
    async publishedEvents(type, correlationId) {
      const tree = stage.trace(correlationId);
      if (!tree) return [];
      const topic = topicName("local", type, catalog[type].ordering === "fifo");
      const found: { id: string }[] = [];
      const walk = (node: unknown) => {
        if (!node || typeof node !== "object") return;
        const n = node as Record<string, unknown>;
        if (n.eventType === type && typeof n.topicArn === "string" && n.topicArn.endsWith(`:${topic}`) && typeof n.eventId === "string") {
          found.push({ id: n.eventId });
        }
        for (const value of Object.values(n)) {
          if (Array.isArray(value)) value.forEach(walk);
          else if (value && typeof value === "object") walk(value);
        }
      };
      walk(tree);
      return [...new Map(found.map((f) => [f.id, f])).values()];
    },
    async stop() {
      client.destroy();
      await stage.stop();
    },
  };
}

/**
 * The stage named by `STAGE` (or `--stage`): `local` by default. `services`: the services the tests need; a local
 * stage starts only those, a deployed stage has them all.
 */
export async function connectStage(name = process.env.STAGE ?? "local", options: { services?: readonly string[] } = {}): Promise<StageTarget> {
  return name === "local" ? localStage(options.services ? { services: options.services } : {}) : deployedStage({ stage: name });
}
