import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { catalog, PLATFORM_ROLE_TAG, platformRoles, topicEventTypes, topicName, type TopicEventType, type TopicRef } from "../shared/contract";
import type { PlatformConfig } from "./config";

export interface EventBus {
  eventTopics: Record<TopicEventType, pulumi.Output<TopicRef>>;
  failureTopic: pulumi.Output<TopicRef>;
  alarmTopic: pulumi.Output<TopicRef>;
}

interface TopicArgs {
  name: string;
  fifo: boolean;
  description: string;
  /** Service principals (besides the account's own IAM principals) allowed to publish, e.g. CloudWatch alarms. */
  publishingServices?: string[];
  /** What the topic is to the platform (`platform:role` tag), for guardrails that check its subscribers. */
  role?: string;
}

function createTopic(
  logicalName: string,
  args: TopicArgs,
  config: PlatformConfig,
  key: aws.kms.Key,
  accountId: pulumi.Input<string>,
): pulumi.Output<TopicRef> {
  const topic = new aws.sns.Topic(logicalName, {
    name: args.name,
    displayName: args.description.slice(0, 100),
    fifoTopic: args.fifo,
    // Publishers always set a deduplication id (the event id), so content-based deduplication stays off.
    contentBasedDeduplication: args.fifo ? false : undefined,
    kmsMasterKeyId: key.arn,
    tracingConfig: config.tracingMode,
    tags: args.role ? { [PLATFORM_ROLE_TAG]: args.role } : undefined,
  });
  const statements: unknown[] = [
    {
      Sid: "DenyPublishWithoutTls",
      Effect: "Deny",
      Principal: "*",
      Action: "sns:Publish",
      Resource: topic.arn,
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    },
  ];
  if (args.publishingServices?.length) {
    statements.push({
      Sid: "ServicesPublish",
      Effect: "Allow",
      Principal: { Service: args.publishingServices },
      Action: "sns:Publish",
      Resource: topic.arn,
      Condition: { StringEquals: { "aws:SourceAccount": accountId } },
    });
  }
  new aws.sns.TopicPolicy(`${logicalName}-policy`, {
    arn: topic.arn,
    policy: pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements }),
  });
  return pulumi.output({ arn: topic.arn, name: topic.name, fifo: pulumi.output(args.fifo) });
}

/**
 * One topic per catalog entry that travels on SNS (stream events get a Kinesis stream instead: streams.ts), the
 * failure topic and the operators' alarm topic.
 */
export function createEventBus(config: PlatformConfig, key: aws.kms.Key, accountId: pulumi.Input<string>): EventBus {
  const eventTopics = {} as Record<TopicEventType, pulumi.Output<TopicRef>>;
  for (const type of topicEventTypes) {
    const entry = catalog[type];
    const fifo = entry.ordering === "fifo";
    eventTopics[type] = createTopic(
      `event-${type}`,
      { name: topicName(config.stage, type, fifo), fifo, description: entry.description },
      config,
      key,
      accountId,
    );
  }
  const failureTopic = createTopic(
    "failure-topic",
    {
      name: `${config.stage}-platform-event-failed`,
      fifo: false,
      description: "Events that a retry cannot fix",
      role: platformRoles.failureEvents,
    },
    config,
    key,
    accountId,
  );
  const alarmTopic = createTopic(
    "alarm-topic",
    {
      name: `${config.stage}-platform-alarms`,
      fifo: false,
      description: "Alarms for the operators",
      publishingServices: ["cloudwatch.amazonaws.com"],
      role: platformRoles.alarms,
    },
    config,
    key,
    accountId,
  );
  if (config.alarmEmail) {
    new aws.sns.TopicSubscription("alarm-email", {
      topic: alarmTopic.arn,
      protocol: "email",
      endpoint: config.alarmEmail,
    });
  }
  return { eventTopics, failureTopic, alarmTopic };
}
