/** Watch mode of the local stage (`npm start`): see the README beside the stage (shared/local/stage/README.md). */
export * from "./watcher";
export * from "./plan";
export * from "./wiring-diff";
export * from "./reconcile";
export * from "./programs";
export * from "./watch-stage";
export * from "./migrations";
