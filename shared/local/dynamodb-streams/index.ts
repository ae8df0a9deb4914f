export * from "./attribute-values";
export * from "./engine";
export * from "./event-filter";
export * from "./recorder";
export * from "./target";
export * from "./shard-source";
