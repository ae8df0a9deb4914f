export * from "./rule-names";
export * from "./rule";
export * from "./suppressions";
export * from "./policies";
export * from "./adapter";
export { T as RESOURCE_TYPES } from "./resource-types";
export { wildcardResourceExemption } from "./rules/permissions";
export { PRODUCTION_STAGES } from "./rules/data";
