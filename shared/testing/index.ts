export * from "./local-dynamo";
export * from "./service-test-bed";
export * from "./workflow-runner";
