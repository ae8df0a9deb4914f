export * from "./engine";
export * from "./endpoint";
export * from "./shard-source";
