import type { EnvName, LogLevel } from "../contract";
// Values come from the contract's files, not its index: the index would bring the platform outputs schema (and
// its construction at init) into every function bundle.
import { ENV } from "../contract/environment";

const logLevels: readonly LogLevel[] = ["DEBUG", "INFO", "WARN", "ERROR"];
import { ConfigurationError } from "./errors";

/** The value of a platform variable, or `undefined` when it is unset or empty. */
export function readEnv(name: EnvName): string | undefined {
  const value = process.env[name];
  return value ? value : undefined;
}

/** The value of a platform variable; a `ConfigurationError` that says who needs it when it is missing. */
export function requireEnv(name: EnvName, neededFor: string): string {
  const value = readEnv(name);
  if (value === undefined) {
    throw new ConfigurationError(`${name} is not set; it is needed for ${neededFor} (the function component sets it)`);
  }
  return value;
}

/** The service this function belongs to (`ENV.service`). */
export function serviceName(neededFor = "this operation"): string {
  return requireEnv(ENV.service, neededFor);
}

/**
 * The function's logical name inside its service (`ENV.handler`).
 * @default the Lambda function name, else "unknown"
 */
export function handlerName(): string {
  return readEnv(ENV.handler) ?? process.env.AWS_LAMBDA_FUNCTION_NAME ?? "unknown";
}

/**
 * The log level from `ENV.logLevel` (case-insensitive).
 * @default "INFO" (also when the value is not a known level)
 */
export function logLevel(): LogLevel {
  const raw = readEnv(ENV.logLevel);
  if (raw === levelCache.raw) return levelCache.level;
  const value = raw?.toUpperCase();
  levelCache = { raw, level: logLevels.find((level) => level === value) ?? "INFO" };
  return levelCache.level;
}

// The level of the last value read (every log call reads it, and it rarely changes).
let levelCache: { raw: string | undefined; level: LogLevel } = { raw: undefined, level: "INFO" };

let topicsCache: { raw: string; topics: Readonly<Record<string, string>> } | undefined;

/** Event type -> topic ARN for the events this function may publish (`ENV.publishTopics`, a JSON object). */
export function publishTopics(): Readonly<Record<string, string>> {
  const raw = readEnv(ENV.publishTopics) ?? "{}";
  if (topicsCache?.raw === raw) return topicsCache.topics;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigurationError(`${ENV.publishTopics} is not JSON`, { cause });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(`${ENV.publishTopics} must be a JSON object of event type -> topic ARN`);
  }
  for (const [type, arn] of Object.entries(parsed)) {
    if (typeof arn !== "string" || !arn.startsWith("arn:")) {
      throw new ConfigurationError(`${ENV.publishTopics}: the topic of "${type}" is not an ARN`);
    }
  }
  topicsCache = { raw, topics: Object.freeze(parsed as Record<string, string>) };
  return topicsCache.topics;
}

let streamsCache: { raw: string; streams: Readonly<Record<string, string>> } | undefined;

/** Event type -> Kinesis stream name for the stream events this function may publish (`ENV.publishStreams`, a JSON object). */
export function publishStreams(): Readonly<Record<string, string>> {
  const raw = readEnv(ENV.publishStreams) ?? "{}";
  if (streamsCache?.raw === raw) return streamsCache.streams;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigurationError(`${ENV.publishStreams} is not JSON`, { cause });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(`${ENV.publishStreams} must be a JSON object of event type -> stream name`);
  }
  for (const [type, name] of Object.entries(parsed)) {
    if (typeof name !== "string" || !/^[a-zA-Z0-9_.-]{1,128}$/.test(name)) {
      throw new ConfigurationError(`${ENV.publishStreams}: the stream of "${type}" is not a stream name (1 to 128 of a-z, A-Z, 0-9, _ . -)`);
    }
  }
  streamsCache = { raw, streams: Object.freeze(parsed as Record<string, string>) };
  return streamsCache.streams;
}
