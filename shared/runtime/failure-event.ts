import type { Envelope, FailureEventData } from "../contract";
import { ENV } from "../contract/environment";
import { FAILURE_EVENT_TYPE, failureEventData } from "../contract/failure-event";
import { buildEnvelope, type EnvelopeHints } from "./envelope";
import type { NonRetryableError } from "./errors";
import { derivedEventId } from "./event-id";
import { handlerName, requireEnv, serviceName } from "./function-environment";
import { sendToTopics } from "./sns-publish";
import { childTraceparent } from "./trace-context";
import { validate } from "./validation";

/** Version of the failure event's data (the `dataversion` attribute). */
export const FAILURE_EVENT_VERSION = 1;

/** What a consumer knows about a message it gives up on. */
export interface FailedMessage {
  /** The message body exactly as received. */
  readonly body: string;
  readonly error: NonRetryableError;
  /** Envelope fields that could be read from the message. */
  readonly original: EnvelopeHints;
  /** Correlation id and trace to continue. */
  readonly correlationId: string;
  readonly traceparent: string;
}

/**
 * Publishes a `platform.event-failed` event to the platform failure topic (`ENV.failureTopicArn`). Its id is
 * derived from the consumer and the body, so a redelivered poison message yields the same failure event id.
 * Throws when it cannot publish (the caller then reports the record as failed, so nothing is lost).
 */
export async function publishFailureEvent(failed: FailedMessage): Promise<Envelope<FailureEventData>> {
  const topicArn = requireEnv(ENV.failureTopicArn, "publishing failure events");
  const service = serviceName("publishing failure events");
  const handler = handlerName();
  const data: FailureEventData = {
    service,
    handler,
    reason: failed.error.reason,
    message: failed.error.message,
    originalBody: failed.body,
  };
  if (failed.original.type !== undefined) data.originalType = failed.original.type;
  if (failed.original.id !== undefined) data.originalId = failed.original.id;
  const checked = validate(failureEventData, data);
  if (!checked.success) throw new Error(`failure event data is invalid: ${JSON.stringify(checked.issues)}`);
  const envelope = buildEnvelope(FAILURE_EVENT_TYPE, checked.data, {
    source: service,
    id: derivedEventId(service, handler, FAILURE_EVENT_TYPE, failed.body),
    correlationId: failed.correlationId,
    causationId: failed.original.id,
    traceparent: childTraceparent(failed.traceparent),
  });
  await sendToTopics([{ topicArn, envelope, dataVersion: FAILURE_EVENT_VERSION }]);
  return envelope;
}
