import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { DynamoDBClient, ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
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
  runId?: string;
}

export function defaultRunId(): string {
  return process.env.CI_BUILD_ID ?? process.env.GITHUB_RUN_ID ?? `run-${randomUUID()}`;
}

/** Waits until `probe` answers something other than `undefined`, polling; fails after `ms` naming what it waited for. */
export async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
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
  return {
    stage: options.stage,
    runId: options.runId ?? defaultRunId(),
    apiUrl(service) {
      const url = outputsOf(service).apiUrl;
      if (typeof url !== "string") throw new Error(`the ${service} stack of stage ${options.stage} exports no apiUrl`);
      return url.replace(/\/$/, "");
    },
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

/** The local stage, started in this process (platform and every service, offline). */
export async function localStage(options: { runId?: string } = {}): Promise<StageTarget> {
  // Loaded only for the local stage: it brings Pulumi and the local engines with it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startLocalStage } = require("../local/stage") as typeof LocalStageModule;
  const stage = await startLocalStage({ port: 0 });
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

/** The stage named by `STAGE` (or `--stage`): `local` by default. */
export async function connectStage(name = process.env.STAGE ?? "local"): Promise<StageTarget> {
  return name === "local" ? localStage() : deployedStage({ stage: name });
}
