/**
 * The local stage (`npm start`) and the engines it is built from. Most callers want `startLocalStage`; the engines
 * (SNS, SQS, Lambda host, AWS endpoints, IAM) are exported for tools and tests that need one of them alone.
 */
export * from "./stage";
export * from "./sns";
export * from "./sqs";
export * from "./lambda";
export * from "./lambda-events";
export * from "./endpoints";
export * from "./iam";
// Two parts name an authorizer: the IAM class (what the stage uses) and the endpoints' hook type.
export { Authorizer } from "./iam";
export type { Authorizer as EndpointAuthorizer } from "./endpoints/authorization";
