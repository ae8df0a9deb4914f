export * from "./define-event";
export * from "./catalog";
export * from "./envelope";
export * from "./failure-event";
export * from "./environment";
export * from "./platform-outputs";
export * from "./naming";
export * from "./tables";
