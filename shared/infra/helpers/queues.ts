import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PolicyDocument, PolicyStatement } from "./policy-document";
import { applyTransform, type Transform } from "./transform";

/** 14 days, the longest SQS keeps a message: a dead letter waits that long for someone to look. */
export const DLQ_RETENTION_SECONDS = 1_209_600;

/** Data keys an SQS queue encrypted with a KMS key reuses for this long before asking KMS again (SQS's default). */
export const QUEUE_KMS_DATA_KEY_REUSE_SECONDS = 300;

/** Every queue refuses requests made without TLS, whoever makes them. */
export function denyWithoutTls(queueArn: string): PolicyStatement {
  return {
    Sid: "DenyWithoutTls",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:*",
    Resource: queueArn,
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

/** A queue's resource policy: the topic may send (only when `topicArn` is given); nothing without TLS. */
export function queuePolicy(queueArn: string, topicArn: string | undefined): PolicyDocument {
  const statements: PolicyStatement[] = [];
  if (topicArn) {
    statements.push({
      Sid: "TopicSends",
      Effect: "Allow",
      Principal: { Service: "sns.amazonaws.com" },
      Action: "sqs:SendMessage",
      Resource: queueArn,
      Condition: { ArnEquals: { "aws:SourceArn": topicArn } },
    });
  }
  statements.push(denyWithoutTls(queueArn));
  return { Version: "2012-10-17", Statement: statements };
}

/** A stream mapping's on-failure queue policy (a stream consumer's, a relay's): only the function's role may send, and nothing without TLS. */
export function onFailureQueuePolicy(queueArn: string, roleArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // Lambda sends the on-failure record with the function's execution role.
        Sid: "FunctionRoleSends",
        Effect: "Allow",
        Principal: { AWS: roleArn },
        Action: "sqs:SendMessage",
        Resource: queueArn,
      },
      {
        // Nobody else, whatever their own IAM policies allow.
        Sid: "DenyOtherSenders",
        Effect: "Deny",
        Principal: "*",
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": roleArn } },
      },
      denyWithoutTls(queueArn),
    ],
  };
}

/**
 * How an on-failure queue is encrypted: with the platform's events key (a customer managed key). Lambda sends the
 * on-failure record with the function's role, which then needs kms:GenerateDataKey and kms:Decrypt on the key for
 * the queue's encryption context (grants.ts for a stream consumer, outbox-relay.ts for a relay).
 */
export type OnFailureEncryption = { kmsKeyArn: pulumi.Input<string> };

/** Who may send to an on-failure queue: only the reading function's role (the sender Lambda uses); nothing without TLS. */
export type OnFailureSenders = { functionRoleArn: pulumi.Input<string> };

/** Where the component's on-failure queue is and how its owner may adjust it. */
export interface OnFailureQueueArgs {
  /** The queue's AWS name. */
  name: string;
  encryption: OnFailureEncryption;
  transform?: Transform<aws.sqs.QueueArgs>;
  /** The child's options (its parent). */
  opts?: pulumi.CustomResourceOptions;
}

/**
 * The on-failure destination of a stream event source mapping (Kinesis, DynamoDB Streams): Lambda sends it the
 * description of a batch it gave up on (shard and sequence range, not the records). Kept 14 days, encrypted.
 */
export function onFailureQueue(childName: string, args: OnFailureQueueArgs): aws.sqs.Queue {
  const encryption: aws.sqs.QueueArgs = { kmsMasterKeyId: args.encryption.kmsKeyArn, kmsDataKeyReusePeriodSeconds: QUEUE_KMS_DATA_KEY_REUSE_SECONDS };
  return new aws.sqs.Queue(
    ...applyTransform(args.transform, childName, { name: args.name, messageRetentionSeconds: DLQ_RETENTION_SECONDS, ...encryption }, { ...args.opts }),
  );
}

/** The on-failure queue's resource policy (see `OnFailureSenders`). */
export function onFailureQueuePolicyResource(
  childName: string,
  queue: aws.sqs.Queue,
  senders: OnFailureSenders,
  options: { transform?: Transform<aws.sqs.QueuePolicyArgs>; opts?: pulumi.CustomResourceOptions } = {},
): aws.sqs.QueuePolicy {
  const policy = pulumi.all([queue.arn, senders.functionRoleArn]).apply(([arn, roleArn]) => JSON.stringify(onFailureQueuePolicy(arn, roleArn)));
  return new aws.sqs.QueuePolicy(...applyTransform(options.transform, childName, { queueUrl: queue.url, policy }, { ...options.opts }));
}
