export * from "./platform-reference";
export * from "./service-function";
export * from "./event-consumer";
export * from "./http-api";
export * from "./service";
export * from "./workflow";
export * from "./workflow-component";
export * from "./stage-provider";
export * from "./helpers/grants";
export * from "./helpers/names";
export * from "./helpers/policy-document";
export * from "./helpers/runtimes";
export * from "./helpers/transform";
export {
  functionBuilds,
  FunctionBuilds,
  BUILD_ROOT,
  FUNCTION_BUILD_ROOT,
  REPO_ROOT,
  BundleError,
  type FunctionBundle,
  type FunctionBuildRequest,
} from "./helpers/bundle";
