export * from "./authorization";
export * from "./errors";
export * from "./server";
export * from "./sigv4";
export * from "./sns";
export * from "./sqs";
