/** SNS topic name of an event type in a stage: `<stage>-<domain>-<event>`, with `.fifo` for FIFO topics. */
export function topicName(stage: string, eventType: string, fifo: boolean): string {
  return `${stage}-${eventType.replace(".", "-")}${fifo ? ".fifo" : ""}`;
}

/** Kinesis data stream name of a stream event in a stage: `<stage>-<domain>-<event>` (1 to 128 of `[a-zA-Z0-9_.-]`). */
export function streamName(stage: string, eventType: string): string {
  return `${stage}-${eventType.replace(".", "-")}`;
}
