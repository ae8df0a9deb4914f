import type { FailureReason } from "../contract";

/** One problem found by schema validation: where (`items.0.quantity`, `""` for the root) and what. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** Base of every error the runtime throws. Subclasses set `name` and accept `{ cause }`. */
export class RuntimeError extends Error {
  override name = "RuntimeError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The function's environment or code is wired wrongly: a variable is missing, a topic is not granted, a service
 * publishes an event it does not own. A consumer treats it as retryable (the record ends in the dead-letter queue,
 * whose alarm reaches a person); an HTTP handler answers 500.
 */
export class ConfigurationError extends RuntimeError {
  override name = "ConfigurationError";
}

/** An error the action marks as worth retrying (a dependency is busy, data is not there yet). */
export class RetryableError extends RuntimeError {
  override name = "RetryableError";
}

/** The event is being processed by another invocation right now: retry later. */
export class EventInProgressError extends RetryableError {
  override name = "EventInProgressError";

  constructor(
    readonly eventId: string,
    options?: { cause?: unknown },
  ) {
    super(`event ${eventId} is being processed by another invocation`, options);
  }
}

/** SNS refused an event (the whole request, or entries of a batch). Retryable. */
export class PublishError extends RuntimeError {
  override name = "PublishError";

  constructor(
    message: string,
    /** Ids of the events that were not published. */
    readonly eventIds: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Our own code built an event whose `data` does not match the catalog schema. A bug, not the input's fault:
 * retryable for a consumer (dead-letter queue and alarm), 500 for an HTTP handler.
 */
export class EventSchemaError extends RuntimeError {
  override name = "EventSchemaError";

  constructor(
    readonly eventType: string,
    readonly issues: readonly ValidationIssue[],
    options?: { cause?: unknown },
  ) {
    super(`data of ${eventType} does not match the catalog schema: ${describeIssues(issues)}`, options);
  }
}

/**
 * An error a retry cannot fix. A consumer publishes a failure event (with the original body and this error's
 * message) to the platform failure topic and acknowledges the record.
 */
export abstract class NonRetryableError extends RuntimeError {
  override name = "NonRetryableError";
  /** The `reason` of the failure event. */
  abstract readonly reason: FailureReason;
}

/** The received message is not a valid event: not JSON, not a CloudEvent, or `data` breaks its schema. */
export class InvalidEventError extends NonRetryableError {
  override name = "InvalidEventError";
  readonly reason = "invalid-event";

  constructor(
    message: string,
    readonly issues: readonly ValidationIssue[] = [],
    options?: { cause?: unknown },
  ) {
    super(issues.length ? `${message}: ${describeIssues(issues)}` : message, options);
  }
}

/** The event's type is not in the catalog, or this consumer has no action for it. */
export class UnknownEventTypeError extends NonRetryableError {
  override name = "UnknownEventTypeError";
  readonly reason = "unknown-event-type";

  constructor(
    readonly eventType: string,
    message = `unknown event type "${eventType}"`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A business rule forbids the action (an order that is already cancelled cannot be invoiced). Thrown by actions;
 * its message is meant for people and ends up in the failure event (consumer) or the 422 response (HTTP).
 */
export class BusinessRuleError extends NonRetryableError {
  override name = "BusinessRuleError";
  readonly reason = "business-rule";
}

/** Thrown by an HTTP route handler to answer with a status and a message the client may see. */
export class HttpError extends RuntimeError {
  override name = "HttpError";

  constructor(
    readonly status: number,
    message: string,
    options?: {
      cause?: unknown;
      /** Machine-readable error code in the response body. @default "error" */
      code?: string;
      /** Problems to list in the response body. */
      issues?: readonly ValidationIssue[];
    },
  ) {
    super(message, options);
    this.code = options?.code ?? "error";
    this.issues = options?.issues ?? [];
  }

  readonly code: string;
  readonly issues: readonly ValidationIssue[];
}

/** `path: message; path: message` (a root problem is shown without a path). */
export function describeIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ");
}

/** True for errors a consumer should turn into a failure event instead of retrying. */
export function isNonRetryable(error: unknown): error is NonRetryableError {
  return error instanceof NonRetryableError;
}
