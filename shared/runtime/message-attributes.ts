import type { MessageAttributeValue } from "@aws-sdk/client-sns";
import type { Envelope } from "../contract";
import { messageAttributeNames } from "../contract/envelope";

/**
 * The filterable attributes every event carries: type, source, correlation id (String) and data version (Number,
 * so filter policies can match it numerically). Four of SNS's ten, so raw delivery keeps them all.
 * Its own module (no AWS SDK client behind it): the local stage's own thread builds them for hand publishes and
 * failure replays without loading the SDK's clients at start (sns-publish.ts re-exports it).
 */
export function messageAttributes(envelope: Envelope, dataVersion: number): Record<string, MessageAttributeValue> {
  return {
    [messageAttributeNames.type]: { DataType: "String", StringValue: envelope.type },
    [messageAttributeNames.source]: { DataType: "String", StringValue: envelope.source },
    [messageAttributeNames.correlationId]: { DataType: "String", StringValue: envelope.correlationid },
    [messageAttributeNames.version]: { DataType: "Number", StringValue: String(dataVersion) },
  };
}
