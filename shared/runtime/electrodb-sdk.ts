import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { ELECTRODB_SDK_REGISTRY } from "./bundle-options";

// In a function bundle, ElectroDB's `require("@aws-sdk/lib-dynamodb")` and `require("@aws-sdk/util-dynamodb")` get
// a module that reads these from a registry (bundle-options.ts, electrodbSdkPlugin) instead of the SDK's modules:
// a require() of an ES module makes esbuild keep and evaluate all of it (every DynamoDB command, the aggregated
// clients, the waiters: 45 KB and about 5 ms of a cold start), while these named imports keep only what is sent.
// Outside bundles (tests under tsx) ElectroDB requires the SDK itself and the registry is not read.

/** What ElectroDB uses of the SDK, by module (the names are ELECTRODB_SDK_IMPORTS in bundle-options.ts). */
export const electrodbSdk = {
  "@aws-sdk/lib-dynamodb": {
    BatchGetCommand,
    BatchWriteCommand,
    DeleteCommand,
    GetCommand,
    PutCommand,
    QueryCommand,
    ScanCommand,
    TransactGetCommand,
    TransactWriteCommand,
    UpdateCommand,
  },
  "@aws-sdk/util-dynamodb": { unmarshall },
} as const;

/** Puts {@link electrodbSdk} in the registry (once per process; `dataTable()` calls it, before ElectroDB sends). */
export function registerElectrodbSdk(): void {
  const registry = globalThis as unknown as Record<symbol, unknown>;
  registry[Symbol.for(ELECTRODB_SDK_REGISTRY)] ??= electrodbSdk;
}
