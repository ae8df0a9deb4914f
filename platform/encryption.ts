import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "./config";

/**
 * The customer managed key that encrypts every platform topic. A customer key (not aws/sns) because SNS must be
 * able to deliver to SQS and CloudWatch must be able to publish alarms, which needs grants in the key policy.
 */
export function createEventsKey(config: PlatformConfig, accountId: pulumi.Input<string>): aws.kms.Key {
  const root = pulumi.interpolate`arn:aws:iam::${accountId}:root`;
  const key = new aws.kms.Key("events-key", {
    description: `Encrypts the ${config.stage} event topics`,
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
          Sid: "ServicesDeliverEncryptedMessages",
          Effect: "Allow",
          Principal: { Service: ["sns.amazonaws.com", "cloudwatch.amazonaws.com"] },
          Action: ["kms:GenerateDataKey", "kms:Decrypt"],
          Resource: "*",
          Condition: { StringEquals: { "aws:SourceAccount": accountId } },
        },
      ],
    }),
  });
  new aws.kms.Alias("events-key-alias", { name: `alias/${config.stage}-events`, targetKeyId: key.keyId });
  return key;
}
