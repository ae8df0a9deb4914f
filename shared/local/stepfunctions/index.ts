export { checkDefinition, taskKind, UnsupportedDefinitionError, LAMBDA_INVOKE, SNS_PUBLISH, type AslDefinition, type TaskKind } from "./definition";
export { createStepFunctionsEndpoint, type StepFunctionsEndpointOptions } from "./endpoint";
export {
  StepFunctionsEngine,
  type ExecutionObserver,
  type ExecutionRecord,
  type ExecutionStatus,
  type FunctionAnswer,
  type HistoryEvent,
  type StateMachineConfig,
  type StateRun,
  type StepFunctionsEngineOptions,
  type TaskCall,
  type TaskRunner,
} from "./engine";
export { installPromiseWithResolvers } from "./polyfill";
