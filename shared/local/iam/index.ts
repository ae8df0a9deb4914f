/** The local stage's IAM: policy evaluation, DynamoDB request authorization and the enforcing DynamoDB proxy. */
export * from "./evaluate";
export * from "./dynamodb-requests";
export * from "./authorizer";
export * from "./dynamodb-proxy";
