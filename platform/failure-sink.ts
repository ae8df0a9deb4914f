import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformOutputs, TopicRef } from "../shared/contract";
import { queueNotEmptyAlarm } from "../shared/infra/helpers/alarms";
import { DLQ_RETENTION_SECONDS, queuePolicy } from "../shared/infra/helpers/queues";
import type { PlatformConfig } from "./config";

/** 14 days, the longest SQS keeps a message: failure events wait that long for an operator. */
export const FAILURE_RETENTION_SECONDS = DLQ_RETENTION_SECONDS;

/** Seconds a failure event stays hidden after an operator receives it (time to publish it again and delete it). */
export const FAILURE_VISIBILITY_SECONDS = 300;

export interface FailureSink {
  queue: pulumi.Output<PlatformOutputs["failureQueue"]>;
}

/**
 * The failure topic's durable sink. SNS keeps nothing for a topic without subscribers, and a consumer acknowledges a
 * record once its failure event is published, so without a sink every rejected event would be gone.
 *
 * failure topic -> subscription (raw delivery: the queue's message body is the failure event as published, with the
 * original event in `data.originalBody`, and its filterable attributes arrive as SQS message attributes; its own
 * dead-letter queue for what SNS cannot deliver) -> encrypted queue kept 14 days that only this topic may send to,
 * over TLS -> a depth alarm on the platform's alarm topic. Nothing consumes the queue: operators read it, fix the
 * cause and publish the original event to its topic again (README, "Failure events").
 */
export function createFailureSink(config: PlatformConfig, failureTopic: pulumi.Output<TopicRef>, alarmTopic: pulumi.Output<TopicRef>): FailureSink {
  const base = `${config.stage}-platform-event-failed`;
  const queue = new aws.sqs.Queue("failure-queue", {
    name: base,
    messageRetentionSeconds: FAILURE_RETENTION_SECONDS,
    visibilityTimeoutSeconds: FAILURE_VISIBILITY_SECONDS,
    sqsManagedSseEnabled: true,
    tags: {
      // Tag values take no commas.
      "guardrail:suppress:sqs-source-queue-has-dlq":
        "Nothing consumes this queue: operators read failure events here and delete what they replayed. A redrive would hide them after a few reads and no queue keeps them longer than its 14 days",
    },
  });
  const deliveryDeadLetterQueue = new aws.sqs.Queue("failure-subscription-dlq", {
    name: `${base}-sub-dlq`,
    messageRetentionSeconds: FAILURE_RETENTION_SECONDS,
    sqsManagedSseEnabled: true,
  });

  // Only the failure topic may send (aws:SourceArn), and every request must use TLS.
  const policies = [
    new aws.sqs.QueuePolicy("failure-queue-policy", {
      queueUrl: queue.url,
      policy: pulumi.all([queue.arn, failureTopic.arn]).apply(([queueArn, topicArn]) => JSON.stringify(queuePolicy(queueArn, topicArn))),
    }),
    new aws.sqs.QueuePolicy("failure-subscription-dlq-policy", {
      queueUrl: deliveryDeadLetterQueue.url,
      policy: pulumi
        .all([deliveryDeadLetterQueue.arn, failureTopic.arn])
        .apply(([queueArn, topicArn]) => JSON.stringify(queuePolicy(queueArn, topicArn))),
    }),
  ];

  new aws.sns.TopicSubscription(
    "failure-subscription",
    {
      topic: failureTopic.arn,
      protocol: "sqs",
      endpoint: queue.arn,
      rawMessageDelivery: true,
      redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: deliveryDeadLetterQueue.arn }),
    },
    // SNS may deliver as soon as the subscription exists: the queues must already accept its messages.
    { dependsOn: policies },
  );

  const alarmOn = (name: string, watched: aws.sqs.Queue, description: string) =>
    queueNotEmptyAlarm(name, watched, description, { alarmTopicArn: alarmTopic.arn });
  alarmOn(
    "failure-queue-alarm",
    queue,
    "Failure events are waiting: a consumer rejected events a retry cannot fix. Read them, fix the cause, publish each original event to its topic again, delete it (README: Failure events)",
  );
  alarmOn(
    "failure-subscription-dlq-alarm",
    deliveryDeadLetterQueue,
    "SNS could not deliver failure events to the failure queue: check the queue and its policy, then move these messages to it",
  );

  return { queue: pulumi.output({ name: queue.name, arn: queue.arn, url: queue.url }) };
}
