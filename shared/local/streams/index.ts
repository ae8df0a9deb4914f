export * from "./shard-poller";
