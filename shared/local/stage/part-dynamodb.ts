/**
 * The DynamoDB part: dynalite and the IAM proxy every function talks to (in a thread of their own), with the
 * programs' tables created in it.
 */
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
  return {
    name: "dynamodb",
    get dynamo(): LocalDynamo {
      if (!dynamo) throw new Error("the dynamodb part has not started");
      return dynamo;
    },
    async start() {
      dynamo = await startDynamoService({
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
      state = { status: "ok", detail: `${wiring.tables.length} tables (data: ${dynamo.storage}), IAM proxy ${dynamo.endpoint}` };
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
      await dynamo.register(functionRegistrations(next), functionRegistrations({ functions: gone, accountId: next.accountId }).map((r) => r.principal));
      wiring = next;
      state = { status: "ok", detail: `${wiring.tables.length} tables (data: ${dynamo.storage}), IAM proxy ${dynamo.endpoint}` };
    },
    health: () => state,
  };
}
