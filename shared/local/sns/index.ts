/** The in-process SNS engine of the local stage: topics, SQS subscriptions, filter policies, notifications. */
import type { PollerTraceEvent, SqsTraceEvent } from "../sqs/trace";
import type { SnsTraceEvent } from "./engine";

export * from "./filter-policy";
export * from "./engine";
export * from "./notification";

/** Every trace event of the local messaging engines (SNS, SQS, queue pollers), for one listener to take them all. */
export type MessagingTraceEvent = SnsTraceEvent | SqsTraceEvent | PollerTraceEvent;
