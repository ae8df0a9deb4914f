export * from "./bundle";
export * from "./function-host";
