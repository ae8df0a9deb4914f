import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { LOG_DELIVERY_KEY_ACTIONS, LOG_DELIVERY_PRINCIPAL, SERVICE_PRINCIPAL_KEY_ACTIONS } from "../shared/infra/guardrails/rules/deployment";
import type { PlatformConfig } from "./config";

/**
 * The customer managed key that encrypts every platform topic. A customer key (not aws/sns) because CloudWatch must
 * be able to publish alarms to the encrypted alarm topic, which needs a statement in the key policy (the aws/sns
 * key's policy cannot be changed). CloudWatch gets one, and CloudWatch Logs' delivery service one (Decrypt only) for
 * the logs of the services' state machines, which this key encrypts too: services publish and run their workflows
 * with their own roles (IAM grants), and SNS delivers to queues encrypted with SSE-SQS, which needs nothing from it.
 *
 * It also encrypts the Kinesis streams of stream events and the on-failure queues of the services' stream mappings
 * (stream consumers' and outbox relays'). Kinesis and SQS use the key on behalf of the caller (Lambda sends an
 * on-failure record with the function's role), so nothing is added here either: the "AccountAdministers" statement
 * lets IAM policies grant it, and each role gets only what it needs for its own stream or queue (a producer
 * kms:GenerateDataKey, a consumer kms:Decrypt, each conditioned on the stream's encryption context; the sender to an
 * on-failure queue kms:GenerateDataKey and kms:Decrypt, conditioned on that queue's).
 */
export function createEventsKey(config: PlatformConfig, accountId: pulumi.Input<string>): aws.kms.Key {
  const root = pulumi.interpolate`arn:aws:iam::${accountId}:root`;
  const key = new aws.kms.Key("events-key", {
    description: `Encrypts the ${config.stage} event topics and streams`,
    enableKeyRotation: true,
    deletionWindowInDays: config.deletionProtection ? 30 : 7,
    policy: pulumi.jsonStringify({
      Version: "2012-10-17",
      Statement: [
        {
          // The default key policy: the account administers the key through IAM (AWS requires kms:* here).
          Sid: "AccountAdministers",
          Effect: "Allow",
          Principal: { AWS: root },
          Action: "kms:*",
          Resource: "*",
        },
        {
          // CloudWatch alarms of this account and region publish to the encrypted alarm topic: exactly the two
          // actions the SNS developer guide lists ("Enable compatibility between event sources from AWS services
          // and encrypted topics"), guarded by the rule kms-service-principal-actions.
          Sid: "CloudWatchAlarmsPublish",
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Action: [...SERVICE_PRINCIPAL_KEY_ACTIONS],
          Resource: "*",
          Condition: {
            StringEquals: { "aws:SourceAccount": accountId },
            ArnLike: { "aws:SourceArn": pulumi.interpolate`arn:aws:cloudwatch:${config.region}:${accountId}:alarm:*` },
          },
        },
        {
          // Services' workflows (Step Functions state machines) are encrypted with this key and log to CloudWatch
          // Logs: the log delivery service decrypts what it delivers (Step Functions developer guide, data at rest
          // encryption), for this account's log deliveries only.
          Sid: "StateMachineLogDelivery",
          Effect: "Allow",
          Principal: { Service: LOG_DELIVERY_PRINCIPAL },
          Action: [...LOG_DELIVERY_KEY_ACTIONS],
          Resource: "*",
          Condition: { StringEquals: { "aws:SourceAccount": accountId } },
        },
      ],
    }),
  });
  new aws.kms.Alias("events-key-alias", { name: `alias/${config.stage}-events`, targetKeyId: key.keyId });
  return key;
}
