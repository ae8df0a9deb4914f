export * from "./shard-poller";
export * from "./on-failure-authorization";
