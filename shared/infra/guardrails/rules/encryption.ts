import { resourceRule } from "../rule";
import { bool, str } from "../read";
import { T } from "../resource-types";

export const snsTopicEncrypted = resourceRule(
  {
    name: "sns-topic-encrypted",
    description:
      "SNS topics are encrypted at rest with a KMS key (cdk-nag AwsSolutions-SNS2; Checkov CKV_AWS_26).",
    remediation: "Set kmsMasterKeyId on the topic (the platform uses its customer managed events key).",
  },
  (args) => (args.type === T.topic && !str(args.props.kmsMasterKeyId) ? [{ message: `topic ${args.name} is not encrypted: set kmsMasterKeyId` }] : []),
);

export const sqsQueueEncrypted = resourceRule(
  {
    name: "sqs-queue-encrypted",
    description:
      "SQS queues are encrypted at rest, with SSE-SQS or a KMS key, set explicitly (cdk-nag AwsSolutions-SQS2; Checkov CKV_AWS_27).",
    remediation: "Set sqsManagedSseEnabled: true (or kmsMasterKeyId) on the queue.",
  },
  (args) =>
    args.type === T.queue && bool(args.props.sqsManagedSseEnabled) !== true && !str(args.props.kmsMasterKeyId)
      ? [{ message: `queue ${args.name} is not explicitly encrypted: set sqsManagedSseEnabled: true or kmsMasterKeyId` }]
      : [],
);

export const dynamodbTableEncrypted = resourceRule(
  {
    name: "dynamodb-table-encrypted",
    description:
      "DynamoDB tables are encrypted at rest with the AWS owned key (the default, no charge) or, on purpose, a customer managed key; a key ARN is used only with serverSideEncryption.enabled, so a table that names one without enabling it silently falls back to the AWS owned key (AWS DynamoDB developer guide, encryption at rest; Checkov CKV_AWS_119 relaxed to accept the AWS owned key).",
    remediation:
      "Leave serverSideEncryption out (AWS owned key), or set serverSideEncryption: { enabled: true, kmsKeyArn } to use your customer managed key.",
  },
  (args) =>
    args.type === T.table && str(args.props.serverSideEncryption?.kmsKeyArn) && bool(args.props.serverSideEncryption?.enabled) !== true
      ? [{ message: `table ${args.name} names kmsKeyArn without serverSideEncryption.enabled: the key is ignored and the AWS owned key is used` }]
      : [],
);

export const kmsKeyRotation = resourceRule(
  {
    name: "kms-key-rotation",
    description: "Symmetric customer managed KMS keys rotate automatically (cdk-nag AwsSolutions-KMS5; Checkov CKV_AWS_7).",
    remediation: "Set enableKeyRotation: true on the key.",
  },
  (args) => {
    if (args.type !== T.key) return [];
    const spec = str(args.props.customerMasterKeySpec) ?? str(args.props.keySpec) ?? "SYMMETRIC_DEFAULT";
    if (spec !== "SYMMETRIC_DEFAULT") return []; // AWS rotates only symmetric encryption keys
    return bool(args.props.enableKeyRotation) === true ? [] : [{ message: `KMS key ${args.name} does not rotate: set enableKeyRotation: true` }];
  },
);
