/**
 * The DynamoDB part: dynalite and the IAM proxy every function talks to (in a thread of their own), with the
 * programs' tables created in it.
 */
import { StreamRecorder, type TableStream } from "../dynamodb-streams";
import type { TableKeySchema } from "../iam/dynamodb-requests";
import { functionRegistrations } from "../watch/reconcile";
import { createTables, startDynamoService, type DynamoServiceOptions, type LocalDynamo } from "./dynamodb";
import type { PartHealth, StagePart } from "./parts";
import { WRITE_OPERATIONS, type TraceRecorder } from "./trace";
import type { StageWiring } from "./wiring";

/** What the DynamoDB part needs. */
export interface DynamoPartOptions {
  wiring: StageWiring;
  persistDir?: string;
  /** Every function's access key id and its role's policies (the proxy enforces them). */
  registrations: DynamoServiceOptions["registrations"];
  recorder: TraceRecorder;
}

/** The DynamoDB part; `dynamo` is there once it started. */
export interface DynamoPart extends StagePart<StageWiring> {
  readonly dynamo: LocalDynamo;
  /** The tables' stream records, as the DynamoDB thread's write engine recorded them (what stream mappings read). */
  readonly streams: StreamRecorder;
}

/** The streams of the tables that have one (`streamEnabled`), by table name. */
export function tableStreams(wiring: Pick<StageWiring, "tables">): Record<string, TableStream> {
  const streams: Record<string, TableStream> = {};
  for (const table of wiring.tables) {
    if (!table.stream) continue;
    streams[table.name] = { streamArn: table.stream.arn, viewType: table.stream.viewType, key: { partitionKey: table.hashKey, ...(table.rangeKey ? { sortKey: table.rangeKey } : {}) } };
  }
  return streams;
}

/** Key schemas by table (and index), for `dynamodb:LeadingKeys`. */
export function keySchemasOf(wiring: StageWiring): Record<string, TableKeySchema> {
  const keySchemas: Record<string, TableKeySchema> = {};
  for (const table of wiring.tables) {
    const indexes: Record<string, { partitionKey: string; sortKey?: string }> = {};
    for (const index of [...table.globalIndexes, ...table.localIndexes]) {
      indexes[index.name] = { partitionKey: index.hashKey, ...(index.rangeKey ? { sortKey: index.rangeKey } : {}) };
    }
    keySchemas[table.name] = { partitionKey: table.hashKey, ...(table.rangeKey ? { sortKey: table.rangeKey } : {}), indexes } as TableKeySchema;
  }
  return keySchemas;
}

export function dynamoPart(options: DynamoPartOptions): DynamoPart {
  let dynamo: LocalDynamo | undefined;
  let state: PartHealth = { status: "starting" };
  const { recorder } = options;
  let wiring = options.wiring;
  const streams = new StreamRecorder({ region: wiring.region });
  const enableStreams = (specs: Record<string, TableStream>) => {
    for (const [table, spec] of Object.entries(specs)) streams.enable(table, spec);
  };
  const detail = () => {
    const streamed = streams.tables();
    const records = streamed.length ? `, ${streamed.length} streams (${streamed.reduce((n, t) => n + streams.records(t).length, 0)} records retained)` : "";
    return `${wiring.tables.length} tables (data: ${dynamo!.storage})${records}, IAM proxy ${dynamo!.endpoint}`;
  };
  return {
    name: "dynamodb",
    // Starts alongside the other engines (see parts.ts).
    needs: [],
    streams,
    get dynamo(): LocalDynamo {
      if (!dynamo) throw new Error("the dynamodb part has not started");
      return dynamo;
    },
    async start() {
      const specs = tableStreams(wiring);
      enableStreams(specs);
      dynamo = await startDynamoService({
        region: wiring.region,
        streams: specs,
        // The write's trace first (the record's node under it), then the readers hear of the record.
        onStreamRecord: (stored, requestId) => {
          recorder.streamRecorded({ ...(requestId ? { requestId } : {}), table: stored.table, record: stored.record });
          streams.ingest(stored);
        },
        ...(options.persistDir ? { persistDir: options.persistDir } : {}),
        accountId: wiring.accountId,
        keySchemas: keySchemasOf(wiring),
        tables: wiring.tables,
        registrations: options.registrations,
        reported: [...WRITE_OPERATIONS],
        onDecision: (event) =>
          recorder.dynamo({
            requestId: event.requestId,
            operation: event.operation,
            allowed: event.allowed,
            ...(event.traceHeader ? { traceHeader: event.traceHeader } : {}),
            authorizations: event.authorizations,
            ...(event.denied ? { denied: { message: event.denied.message } } : {}),
          }),
        onAnswered: (answer) => recorder.dynamoAnswered(answer),
      });
      try {
        await createTables(dynamo.dynaliteEndpoint, wiring.tables);
      } catch (error) {
        throw new Error(`could not create the tables in dynalite: ${(error as Error).message}`, { cause: error });
      }
      state = { status: "ok", detail: detail() };
    },
    async stop() {
      state = { status: "stopped" };
      await dynamo?.close();
    },
    /**
     * Creates the tables the new wiring adds (a table it no longer declares keeps its data until the next start) and
     * hands the proxy the functions' role policies as they are now.
     */
    async reconcile(next) {
      if (!dynamo) throw new Error("the dynamodb part has not started");
      const added = next.tables.filter((table) => !wiring.tables.some((t) => t.name === table.name));
      if (added.length) await createTables(dynamo.dynaliteEndpoint, added);
      const gone = wiring.functions.filter((fn) => !next.functions.some((f) => f.name === fn.name));
      // Streams of added tables (and changed view types) start recording now; a stream turned off keeps recording until a restart.
      const specs = tableStreams(next);
      enableStreams(specs);
      await dynamo.register(functionRegistrations(next), functionRegistrations({ functions: gone, accountId: next.accountId }).map((r) => r.principal), specs);
      wiring = next;
      state = { status: "ok", detail: detail() };
    },
    health: () => (state.status === "ok" ? { status: "ok", detail: detail() } : state),
  };
}
