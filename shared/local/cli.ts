/**
 * `npm start`: the local stage, and a small client for a running one.
 *
 *   node --import tsx shared/local/cli.ts [start] [--port 3000] [--persist <dir>] [--quiet] [--logs] [--no-watch] [--short-waits] [--psql-port 5432]
 *     [--services orders,billing]
 *   node --import tsx shared/local/cli.ts publish <type> '<json data>' [--correlation-id <id>]
 *   node --import tsx shared/local/cli.ts dlq [<queue name>]
 *   node --import tsx shared/local/cli.ts redrive <queue name>
 *   node --import tsx shared/local/cli.ts failures [<id>]
 *   node --import tsx shared/local/cli.ts replay <failure id>
 *   node --import tsx shared/local/cli.ts trace <correlation id>
 *   node --import tsx shared/local/cli.ts executions
 *   node --import tsx shared/local/cli.ts execution <execution ARN or name>
 *
 * The client commands talk to the stage at `--url`, else `LOCAL_STAGE_URL`, else `http://127.0.0.1:<--port or 3000>`.
 * `AWS_ENDPOINT_URL_SNS`, `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL` for all three),
 * when set, are handed to the functions instead of the stage's own endpoints (moto, LocalStack).
 */
// First, before anything loads @pulumi/pulumi: its function-serialization packages load only if a program uses them.
import "../capture/defer-modules";
import { basename } from "node:path";
import { join } from "node:path";
import { serviceProjectDirs } from "../capture/stack-config";
import type { LocalStage, TraceTree } from "./stage";
import { startRelationalEarly } from "./stage/relational-preload";
import type { StageWatch } from "./watch";

// The stage's modules (Pulumi, the parts, watch mode) load in start(), after PostgreSQL's thread has started; the
// client commands never load them.
/** The repository root (this file is shared/local/cli.ts). */
const REPO_ROOT = join(__dirname, "..", "..");

/** Errors whose message is the whole story (no stack trace is printed for them). */
const EXPECTED_ERRORS = new Set(["ProgramError", "WiringError", "PortInUseError", "LocalStageError", "StackConfigError", "UsageError", "ClientError"]);

class UsageError extends Error {
  override name = "UsageError";
}

class ClientError extends Error {
  override name = "ClientError";
}

const USAGE = `usage:
  npm start [-- --port 3000] [--persist <dir>] [--quiet] [--logs] [--no-watch] [--short-waits] [--psql-port 5432]
            [--services orders,billing]
  node --import tsx shared/local/cli.ts publish <type> '<json data>' [--correlation-id <id>] [--port 3000 | --url <url>]
  node --import tsx shared/local/cli.ts dlq [<queue name>]
  node --import tsx shared/local/cli.ts redrive <queue name>
  node --import tsx shared/local/cli.ts failures [<id>]
  node --import tsx shared/local/cli.ts replay <failure id>
  node --import tsx shared/local/cli.ts trace <correlation id>
  node --import tsx shared/local/cli.ts executions
  node --import tsx shared/local/cli.ts execution <execution ARN or name>
  node --import tsx shared/local/cli.ts streams
  node --import tsx shared/local/cli.ts stream-failures
  node --import tsx shared/local/cli.ts stream-replay <stream name> <shard id> <from sequence number> <to sequence number>
  node --import tsx shared/local/cli.ts stream-mappings
  node --import tsx shared/local/cli.ts stream-mapping-failures
  node --import tsx shared/local/cli.ts stream-mapping-replay <function> <shard id> <from sequence number> <to sequence number>
  node --import tsx shared/local/cli.ts relational
  node --import tsx shared/local/cli.ts health`;

interface Parsed {
  command: string;
  args: string[];
  flags: Record<string, string | true>;
}

const VALUE_FLAGS = new Set(["port", "persist", "url", "correlation-id", "psql-port", "services"]);

/** Splits `argv` into a command, positional arguments and `--flags`. */
export function parseArgs(argv: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      flags.help = true;
    } else if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (VALUE_FLAGS.has(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        flags[name] = value;
      } else if (["quiet", "logs", "no-watch", "short-waits"].includes(name)) {
        flags[name] = true;
      } else {
        throw new UsageError(`unknown option --${name}`);
      }
    } else {
      positional.push(arg);
    }
  }
  const [command = "start", ...args] = positional;
  return { command, args, flags };
}

/**
 * `--services orders,billing`: the folders of those services (names of folders under services/), in that order, from
 * `all` (every service of the repository). A name that is no service is refused, naming it and the services there are.
 */
export function serviceDirsOf(value: string, all: readonly string[] = serviceProjectDirs(REPO_ROOT)): string[] {
  const names = value.split(",").map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError("--services needs service names, separated by commas (--services orders,billing)");
  const byName = new Map(all.map((dir) => [basename(dir), dir]));
  return names.map((name) => {
    const dir = byName.get(name);
    if (!dir) throw new UsageError(`--services: no service "${name}" (services: ${[...byName.keys()].join(", ") || "none"})`);
    return dir;
  });
}

function portOf(flags: Parsed["flags"]): number {
  const raw = flags.port;
  if (raw === undefined) return 3000;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got ${String(raw)}`);
  return port;
}

/** The one line printed when the stage is ready (`watching`: watch mode is on). */
export function readyLine(stage: LocalStage, options: { watching?: boolean } = {}): string {
  const seconds = (stage.startupMs / 1000).toFixed(1);
  const routes = stage.routes.length ? ` [${stage.routes.map((r) => `${r.routeKey} -> ${r.function}${r.auth === "none" ? "" : ` (${r.auth})`}`).join(", ")}]` : " [no HTTP routes]";
  const consumers = stage.consumers.length ? stage.consumers.map((c) => `${c.label} <- ${c.events.join("+") || c.queue}`).join(", ") : "none";
  const aws =
    stage.endpoints.sns === stage.endpoints.sqs
      ? `sns+sqs ${stage.endpoints.sns}, dynamodb ${stage.endpoints.dynamodb}`
      : `sns ${stage.endpoints.sns}, sqs ${stage.endpoints.sqs}, dynamodb ${stage.endpoints.dynamodb}`;
  return (
    `local stage ready in ${seconds} s: ${stage.url}${routes} | services: ${stage.services.join(", ") || "none"} | ` +
    `consumers: ${consumers} | admin: ${stage.adminUrl} (console: ${stage.adminUrl}console) | aws endpoints: ${aws} (data: ${stage.storage}) | ` +
    `${options.watching ? "watching the code (--no-watch turns it off)" : "not watching the code"} | Ctrl-C stops`
  );
}

/** Endpoint overrides from the environment (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`). */
export function endpointOverrides(env: NodeJS.ProcessEnv): { sns?: string; sqs?: string; dynamodb?: string } {
  const pick = (service: string) => env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
  const out: { sns?: string; sqs?: string; dynamodb?: string } = {};
  const sns = pick("SNS");
  const sqs = pick("SQS");
  const dynamodb = pick("DYNAMODB");
  if (sns) out.sns = sns;
  if (sqs) out.sqs = sqs;
  if (dynamodb) out.dynamodb = dynamodb;
  return out;
}

async function start(flags: Parsed["flags"]): Promise<void> {
  const quiet = flags.quiet === true;
  const overrides = endpointOverrides(process.env);
  let stage: LocalStage | undefined;
  let watch: StageWatch | undefined;
  let stopping = false;
  // Handlers first: a signal that arrives while starting, or right after the ready line, must not kill the process
  // before it has stopped its threads and servers.
  const stop = (signal: string) => {
    if (stopping || !stage) {
      process.stderr.write(`local stage: ${signal}, stopping now\n`);
      process.exit(130);
    }
    stopping = true;
    if (!quiet) process.stdout.write(`local stage: ${signal}, stopping…\n`);
    const running = stage;
    (watch ? watch.close() : Promise.resolve()).then(() => running.stop()).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`local stage: stopping failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  const port = portOf(flags);
  // Only these services (and the platform): a quicker start when you work on a few.
  const serviceDirs = typeof flags.services === "string" ? serviceDirsOf(flags.services) : undefined;
  // PostgreSQL's thread first, when a service will use it: it starts on the other core while the stage's modules load.
  startRelationalEarly({ ...(typeof flags.persist === "string" ? { persistDir: flags.persist } : {}), ...(serviceDirs ? { serviceDirs } : {}) });
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded after the early start above */
  const { renderTrace, startLocalStage } = require("./stage") as typeof import("./stage");
  const { formatLogEntry } = require("./lambda/function-host") as typeof import("./lambda/function-host");
  const { watchStage } = require("./watch") as typeof import("./watch");
  /* eslint-enable @typescript-eslint/no-require-imports */
  stage = await startLocalStage({
    port,
    ...(typeof flags.persist === "string" ? { persistDir: flags.persist } : {}),
    ...(serviceDirs ? { serviceDirs } : {}),
    ...(Object.keys(overrides).length ? { endpoints: overrides } : {}),
    ...(quiet ? {} : { onTrace: (tree: TraceTree) => process.stdout.write(`${renderTrace(tree)}\n`) }),
    // Workflow Wait states and Retry intervals last 10 ms (quick runs).
    ...(flags["short-waits"] === true ? { shortWaits: true } : {}),
    // psql against the relational part's PostgreSQL (PGlite's wire protocol), when a service declares a store.
    ...(flags["psql-port"] !== undefined ? { psqlPort: psqlPortOf(flags["psql-port"]) } : {}),
    ...(flags.logs === true ? { onLog: (entry) => process.stdout.write(`[${entry.functionName}] ${formatLogEntry(entry)}\n`) } : {}),
  });
  if (flags["no-watch"] !== true) {
    // Watch mode: one line per swap, re-run or broken edit (broken edits always, as errors).
    watch = await watchStage(stage, {
      repoRoot: REPO_ROOT,
      onEvent: (event) => {
        if (event.kind === "failed") process.stderr.write(`${event.line}\n`);
        else if (!quiet) process.stdout.write(`${event.line}\n`);
      },
    });
  }
  process.stdout.write(`${readyLine(stage, { watching: watch !== undefined })}\n`);
}

function psqlPortOf(raw: string | true): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new UsageError(`--psql-port must be a port number, got ${String(raw)}`);
  return port;
}

function baseUrl(flags: Parsed["flags"]): string {
  const url = typeof flags.url === "string" ? flags.url : process.env.LOCAL_STAGE_URL || `http://127.0.0.1:${portOf(flags)}`;
  return url.replace(/\/+$/, "");
}

async function call(flags: Parsed["flags"], method: "GET" | "POST", path: string, body?: unknown): Promise<Record<string, unknown>> {
  const url = `${baseUrl(flags)}/_local/${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new ClientError(`no local stage answers at ${baseUrl(flags)}${cause ? ` (${cause})` : ""}: start it with npm start, or pass --port / --url`);
  }
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ClientError(`${url} answered ${response.status} with something that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const issues = Array.isArray(json.issues) ? `\n${(json.issues as { path?: string; message?: string }[]).map((i) => `  ${i.path || "(data)"}: ${i.message}`).join("\n")}` : "";
    throw new ClientError(`${String(json.message ?? `HTTP ${response.status}`)}${issues}`);
  }
  return json;
}

/** One failure event in a few lines: what was rejected, by whom, why, and where a replay would publish it. */
export function formatFailure(failure: Record<string, unknown>): string {
  const lines = [
    `- ${String(failure.id)} ${String(failure.time ?? "")}: ${String(failure.originalType ?? "unreadable event")} ${String(failure.originalId ?? "")}`.trimEnd(),
    `  rejected by ${String(failure.rejectedBy ?? "?")} (${String(failure.reason ?? "?")}): ${String(failure.message ?? "")}`,
    failure.notReplayable ? `  cannot be replayed: ${String(failure.notReplayable)}` : `  replay publishes it to ${String(failure.originalTopic)}`,
  ];
  if (typeof failure.correlationId === "string") lines.push(`  correlation id ${failure.correlationId}`);
  if (typeof failure.originalBody === "string") lines.push(`  original message: ${failure.originalBody}`);
  return lines.join("\n");
}

async function client(parsed: Parsed): Promise<void> {
  const { command, args, flags } = parsed;
  switch (command) {
    case "publish": {
      const [type, data] = args;
      if (!type || data === undefined) throw new UsageError(`publish needs an event type and its data as JSON\n${USAGE}`);
      let parsedData: unknown;
      try {
        parsedData = JSON.parse(data);
      } catch (error) {
        throw new UsageError(`the data is not JSON: ${(error as Error).message}`);
      }
      const result = await call(flags, "POST", "publish", {
        type,
        data: parsedData,
        ...(typeof flags["correlation-id"] === "string" ? { correlationId: flags["correlation-id"] } : {}),
      });
      process.stdout.write(`published ${type} ${String(result.eventId)} (correlation id ${String(result.correlationId)})\n`);
      return;
    }
    case "dlq": {
      if (args[0]) {
        const result = await call(flags, "GET", `dlq/${encodeURIComponent(args[0])}`);
        const messages = (result.messages ?? []) as { messageId: string; body: string; receiveCount: number; state: string }[];
        process.stdout.write(`${String(result.queue)} (from ${String(result.source)}): ${messages.length} message${messages.length === 1 ? "" : "s"}\n`);
        for (const m of messages) process.stdout.write(`- ${m.messageId} (${m.state}, received ${m.receiveCount}x): ${m.body}\n`);
        return;
      }
      const result = await call(flags, "GET", "dlq");
      const queues = (result.deadLetterQueues ?? []) as { name: string; depth: number; source: string; kind: string }[];
      if (queues.length === 0) process.stdout.write("no dead-letter queues\n");
      for (const q of queues) process.stdout.write(`${q.name}: ${q.depth} message${q.depth === 1 ? "" : "s"} (${q.kind === "queue" ? "failed in" : "undeliverable to"} ${q.source})\n`);
      return;
    }
    case "redrive": {
      if (!args[0]) throw new UsageError(`redrive needs a dead-letter queue name\n${USAGE}`);
      const result = await call(flags, "POST", `dlq/${encodeURIComponent(args[0])}/redrive`);
      process.stdout.write(`moved ${String(result.moved)} message${result.moved === 1 ? "" : "s"} back to ${String(result.to)}\n`);
      return;
    }
    case "failures": {
      if (args[0]) {
        const failure = await call(flags, "GET", `failures/${encodeURIComponent(args[0])}`);
        process.stdout.write(`${formatFailure(failure)}\n`);
        process.stdout.write(`failure event: ${JSON.stringify(failure.failureEvent, null, 2)}\n`);
        return;
      }
      const result = await call(flags, "GET", "failures");
      const failures = (result.failures ?? []) as Record<string, unknown>[];
      process.stdout.write(`${String(result.queue)}: ${failures.length} failure event${failures.length === 1 ? "" : "s"}\n`);
      for (const failure of failures) process.stdout.write(`${formatFailure(failure)}\n`);
      return;
    }
    case "replay": {
      if (!args[0]) throw new UsageError(`replay needs the id of a failure (see: failures)\n${USAGE}`);
      const result = await call(flags, "POST", `failures/${encodeURIComponent(args[0])}/replay`);
      process.stdout.write(
        `published ${String(result.eventType)} ${String(result.eventId)} to ${String(result.topicArn).split(":").pop()} again (correlation id ${String(result.correlationId)}); failure ${String(result.id)} deleted\n`,
      );
      return;
    }
    case "trace": {
      if (!args[0]) throw new UsageError(`trace needs a correlation id\n${USAGE}`);
      const result = await call(flags, "GET", `trace/${encodeURIComponent(args[0])}`);
      process.stdout.write(`${String(result.text)}\n`);
      return;
    }
    case "executions": {
      const result = await call(flags, "GET", "executions");
      const executions = (result.executions ?? []) as Record<string, unknown>[];
      process.stdout.write(`${executions.length} workflow execution${executions.length === 1 ? "" : "s"}\n`);
      for (const execution of executions) process.stdout.write(`${formatExecution(execution)}\n`);
      return;
    }
    case "execution": {
      if (!args[0]) throw new UsageError(`execution needs an execution ARN or name (see: executions)\n${USAGE}`);
      const execution = await call(flags, "GET", `executions/${encodeURIComponent(args[0])}`);
      process.stdout.write(`${formatExecution(execution)}\n${formatExecutionDetail(execution)}\n`);
      return;
    }
    case "streams": {
      const result = await call(flags, "GET", "streams");
      const streams = (result.streams ?? []) as { name: string; retentionHours: number; shards: { shardId: string; records: number; firstSequenceNumber?: string; lastSequenceNumber?: string }[]; consumers: { function: string; checkpoints: Record<string, string> }[] }[];
      if (streams.length === 0) process.stdout.write("no streams\n");
      for (const s of streams) {
        process.stdout.write(`${s.name}: ${s.shards.length} shard${s.shards.length === 1 ? "" : "s"}, records kept ${s.retentionHours} h\n`);
        for (const shard of s.shards) process.stdout.write(`  ${shard.shardId}: ${shard.records} records${shard.records ? ` (${shard.firstSequenceNumber} .. ${shard.lastSequenceNumber})` : ""}\n`);
        for (const c of s.consumers) process.stdout.write(`  read by ${c.function}: ${Object.entries(c.checkpoints).map(([shard, seq]) => `${shard} done to ${seq}`).join(", ") || "nothing read yet"}\n`);
      }
      return;
    }
    case "stream-failures": {
      const result = await call(flags, "GET", "streams/failures");
      const failures = (result.failures ?? []) as { queue: string; function: string; record: { requestContext?: { condition?: string }; KinesisBatchInfo?: { shardId: string; startSequenceNumber: string; endSequenceNumber: string; batchSize: number; streamArn: string } } }[];
      process.stdout.write(`${failures.length} on-failure record${failures.length === 1 ? "" : "s"}\n`);
      for (const f of failures) {
        const info = f.record.KinesisBatchInfo;
        process.stdout.write(`- ${f.function} gave up (${String(f.record.requestContext?.condition)}) on ${info ? `${info.batchSize} records of ${info.streamArn.split("/").pop()} ${info.shardId} ${info.startSequenceNumber} .. ${info.endSequenceNumber}` : "?"} (in ${f.queue})\n`);
      }
      return;
    }
    case "stream-replay": {
      const [stream, shardId, from, to] = args;
      if (!stream || !shardId || !from || !to) throw new UsageError(`stream-replay needs a stream, a shard and a sequence range (see: stream-failures)\n${USAGE}`);
      const result = await call(flags, "POST", `streams/${encodeURIComponent(stream)}/replay`, { shardId, from, to });
      process.stdout.write(`put ${String(result.replayed)} record${result.replayed === 1 ? "" : "s"} on ${stream} again\n`);
      return;
    }
    case "stream-mappings": {
      const result = await call(flags, "GET", "stream-mappings");
      type Shard = { shardId: string; checkpoint?: string; pending: number; inFlight: number; iteratorAgeMs: number; retrying?: { records: number; attempts: number; firstSequenceNumber: string }; lastError?: string };
      const mappings = (result.mappings ?? []) as { function: string; eventSourceArn: string; state: string; startingPosition: string; invocations: number; filtered: number; discarded: Record<string, number>; destinationDeliveryFailures?: number; onFailure?: string; shards: Shard[] }[];
      if (mappings.length === 0) process.stdout.write("no stream event source mappings\n");
      for (const m of mappings) {
        const given = Object.values(m.discarded).reduce((a, b) => a + b, 0);
        process.stdout.write(
          `${m.function} <- ${m.eventSourceArn.replace(/^arn:aws:[^:]+:[^:]*:[^:]*:/, "")} (${m.state}, ${m.startingPosition}): ${m.invocations} invocations, ${m.filtered} records filtered out, ${given} given up on${m.onFailure ? ` (to ${m.onFailure.split(":").pop()})` : ""}${m.destinationDeliveryFailures ? `; ${m.destinationDeliveryFailures} on-failure record${m.destinationDeliveryFailures === 1 ? "" : "s"} refused by the destination (the function's role may not send them): lost` : ""}\n`,
        );
        for (const s of m.shards) {
          const retry = s.retrying ? `, retrying ${s.retrying.records} records from ${s.retrying.firstSequenceNumber} (${s.retrying.attempts} failed)` : "";
          process.stdout.write(`  ${s.shardId}: done to ${s.checkpoint ?? "(nothing yet)"}, ${s.pending} waiting, ${s.inFlight} in flight, iterator age ${s.iteratorAgeMs} ms${retry}${s.lastError ? `; last error: ${s.lastError}` : ""}\n`);
        }
      }
      return;
    }
    case "stream-mapping-failures": {
      const result = await call(flags, "GET", "stream-mappings/failures");
      type Info = { shardId: string; startSequenceNumber: string; endSequenceNumber: string; batchSize: number; streamArn: string };
      const failures = (result.failures ?? []) as { queue: string; function: string; record: { requestContext?: { condition?: string }; DDBStreamBatchInfo?: Info; KinesisBatchInfo?: Info } }[];
      process.stdout.write(`${failures.length} on-failure record${failures.length === 1 ? "" : "s"}\n`);
      for (const f of failures) {
        const info = f.record.DDBStreamBatchInfo ?? f.record.KinesisBatchInfo;
        process.stdout.write(`- ${f.function} gave up (${String(f.record.requestContext?.condition)}) on ${info ? `${info.batchSize} records of ${info.streamArn} ${info.shardId} ${info.startSequenceNumber} .. ${info.endSequenceNumber}` : "?"} (in ${f.queue})\n`);
      }
      return;
    }
    case "stream-mapping-replay": {
      const [fn, shardId, from, to] = args;
      if (!fn || !shardId || !from || !to) throw new UsageError(`stream-mapping-replay needs a function, a shard and a sequence range (see: stream-mapping-failures)\n${USAGE}`);
      const result = await call(flags, "POST", "stream-mappings/replay", { function: fn, shardId, from, to });
      const count = Number(result.reinvoked);
      const outcome =
        result.outcome === "failed"
          ? `, and it failed: ${String(result.error)}`
          : result.outcome === "partial"
            ? `; it reported ${Array.isArray(result.batchItemFailures) ? result.batchItemFailures.length : "some"} batch item failure(s)`
            : ", and it took them";
      process.stdout.write(`sent ${count} record${count === 1 ? "" : "s"} of ${shardId} to ${fn} again${result.filtered ? ` (${String(result.filtered)} left out by its filter)` : ""}${outcome}\n`);
      if (result.outcome === "failed" || result.outcome === "partial") process.exitCode = 1;
      return;
    }
    case "relational": {
      const result = await call(flags, "GET", "relational");
      if (!result.enabled) {
        process.stdout.write("no relational store: no service declares one (defineService({ relational: { migrations: \"migrations\" } }))\n");
        return;
      }
      process.stdout.write(`Data API ${String(result.dataApi)} (data: ${String(result.storage)}), ${String(result.statements)} statements run, ${String(result.openTransactions)} open transactions\n`);
      for (const schema of (result.schemas ?? []) as { schema: string; service?: string; tables: { name: string; rows: number }[]; migrations: { name: string; appliedAt: string }[] }[]) {
        process.stdout.write(`schema ${schema.schema}${schema.service ? ` (service ${schema.service})` : ""}\n`);
        for (const t of schema.tables) process.stdout.write(`  table ${t.name}: ${t.rows} row${t.rows === 1 ? "" : "s"}\n`);
        for (const m of schema.migrations) process.stdout.write(`  migration ${m.name} applied ${m.appliedAt}\n`);
      }
      return;
    }
    case "health": {
      const result = await call(flags, "GET", "health");
      for (const [name, part] of Object.entries((result.parts ?? {}) as Record<string, { status: string; detail?: string }>)) {
        process.stdout.write(`${name}: ${part.status}${part.detail ? ` (${part.detail})` : ""}\n`);
      }
      return;
    }
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
}

/** One line per execution: state machine, name, status, duration, who started it. */
export function formatExecution(execution: Record<string, unknown>): string {
  const took = typeof execution.durationMs === "number" ? ` in ${execution.durationMs} ms` : "";
  return `${String(execution.stateMachine)} ${String(execution.name)}: ${String(execution.status)}${took} (started by ${String(execution.startedBy)} at ${String(execution.startDate)})`;
}

/** An execution's input, output or error, its states and its history, one event a line. */
export function formatExecutionDetail(execution: Record<string, unknown>): string {
  const lines = [`input: ${String(execution.input)}`];
  if (execution.output !== undefined) lines.push(`output: ${String(execution.output)}`);
  if (execution.error !== undefined) lines.push(`error: ${String(execution.error)}${execution.cause !== undefined ? `: ${String(execution.cause)}` : ""}`);
  lines.push("states:");
  for (const state of (execution.states ?? []) as Record<string, unknown>[]) {
    const retries = Number(state.retries) ? `, retried ${String(state.retries)}` : "";
    lines.push(`  ${String(state.name)} (${String(state.type)}) ${String(state.status)}${typeof state.durationMs === "number" ? ` in ${state.durationMs} ms` : ""}${retries}${state.error ? `: ${String(state.error)}` : ""}`);
  }
  lines.push("history:");
  for (const event of (execution.history ?? []) as Record<string, unknown>[]) {
    const details = Object.entries(event).find(([key]) => key.endsWith("EventDetails"))?.[1] as Record<string, unknown> | undefined;
    const name = details?.name ?? details?.resource ?? details?.error;
    lines.push(`  ${String(event.id).padStart(3)} ${String(event.timestamp)} ${String(event.type)}${name !== undefined ? ` ${String(name)}` : ""}`);
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed.flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (parsed.command === "start") await start(parsed.flags);
  else await client(parsed);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    const err = error instanceof Error ? error : new Error(String(error));
    process.stderr.write(EXPECTED_ERRORS.has(err.name) ? `local stage: ${err.message}\n` : `local stage: ${err.message}\n${process.env.DEBUG ? (err.stack ?? "") : "(set DEBUG=1 for the stack trace)"}\n`);
    process.exit(1);
  });
}
