export { createDataApiEndpoint, type DataApiEndpointOptions, type DataApiEngine, type RelationalSecret } from "./endpoint";
export { RelationalEngineThread } from "./engine-thread";
export type { SchemaListing } from "./engine-worker";
export {
  bindParameters,
  DataApiError,
  defaultBaseImage,
  keepBaseImage,
  quoteIdentifier,
  relationalDataDir,
  RelationalEngine,
  type ColumnMetadata,
  type Field,
  type RelationalEngineOptions,
  type SqlParameter,
  type StatementReport,
  type StatementResult,
} from "./engine";
