import * as z from "zod/mini";

/**
 * The failure event: published to the platform's failure topic when an event cannot be processed and a retry
 * would not help (invalid event, broken business rule). It carries the original event and the reason, so
 * someone can subscribe, alert, repair and republish.
 */
export const FAILURE_EVENT_TYPE = "platform.event-failed";

/**
 * The tag that marks the platform's failure topic (guardrails recognise it by this tag: it must have a durable
 * sink) and its alarm topic (in a stage that protects data, someone must be subscribed).
 */
export const PLATFORM_ROLE_TAG = "platform:role";
export const platformRoles = { failureEvents: "failure-events", alarms: "alarms" } as const;

export const failureReasons = ["invalid-event", "business-rule", "unknown-event-type"] as const;

export const failureEventData = z.object({
  /** The service and function that gave up on the event. */
  service: z.string(),
  handler: z.string(),
  reason: z.enum(failureReasons),
  /** Human-readable explanation: what was wrong. Never a stack trace. */
  message: z.string(),
  /** Type and id of the original event when they could be read. */
  originalType: z.optional(z.string()),
  originalId: z.optional(z.string()),
  /** The original message body exactly as received. */
  originalBody: z.string(),
});

export type FailureEventData = z.infer<typeof failureEventData>;
export type FailureReason = (typeof failureReasons)[number];
