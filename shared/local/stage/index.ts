/** The local stage (`npm start`): the whole system offline in one Node process. See README.md beside this file. */
export * from "./stage";
export * from "./wiring";
export { discoverServiceDirs, LOCAL_STAGE, ProgramError, runStagePrograms, type ProgramResult, type RunStageProgramsOptions, type StagePrograms } from "./programs";
export * from "./trace";
export * from "./routes";
export { snsBackend, sqsBackend, type TracedPublish } from "./backends";
export { createTables, createTableRequest, dynamoRequest, DynamoRequestError, startDynamoService, type DynamoServiceOptions, type LocalDynamo } from "./dynamodb";
