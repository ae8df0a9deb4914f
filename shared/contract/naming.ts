/** SNS topic name of an event type in a stage: `<stage>-<domain>-<event>`, with `.fifo` for FIFO topics. */
export function topicName(stage: string, eventType: string, fifo: boolean): string {
  return `${stage}-${eventType.replace(".", "-")}${fifo ? ".fifo" : ""}`;
}
