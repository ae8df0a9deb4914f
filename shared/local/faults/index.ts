/** Fault runs of the local stage: the plan, the injectors, the checker and the scenario. See README.md beside this file. */
export * from "./check";
export * from "./dynamodb-fault-proxy";
export * from "./injector";
export * from "./messaging-faults";
export * from "./plan";
export * from "./prng";
export * from "./relay-faults";
export * from "./scenario";
export * from "./workflow-faults";
