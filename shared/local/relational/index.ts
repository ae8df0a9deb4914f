export { createDataApiEndpoint, type DataApiEndpointOptions, type RelationalSecret } from "./endpoint";
export {
  bindParameters,
  DataApiError,
  defaultBaseImage,
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
