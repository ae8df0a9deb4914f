import type { PolicyDocument } from "../../helpers/policy-document";
import { ofType, stackRule } from "../rule";
import { deniesWithoutTls, policyOf, str } from "../read";
import { T } from "../resource-types";

function anyDeniesWithoutTls(documents: (PolicyDocument | undefined)[], actions: string[]): boolean {
  return documents.some((document) =>
    actions.every((action) => (document?.Statement ?? []).some((statement) => deniesWithoutTls(statement, action))),
  );
}

export const snsTopicTlsOnly = stackRule(
  {
    name: "sns-topic-tls-only",
    description:
      "Every SNS topic's policy denies sns:Publish without TLS (aws:SecureTransport false) (cdk-nag AwsSolutions-SNS3).",
    remediation: "Add a TopicPolicy statement: Deny, Principal *, sns:Publish, Condition Bool aws:SecureTransport false.",
  },
  (args) => {
    const policies = ofType(args, T.topicPolicy);
    return ofType(args, T.topic).flatMap((topic) => {
      const arn = str(topic.props.arn);
      const documents = [
        policyOf(topic.props.policy),
        ...policies.filter((p) => arn !== undefined && p.props.arn === arn).map((p) => policyOf(p.props.policy)),
      ];
      return anyDeniesWithoutTls(documents, ["sns:Publish"])
        ? []
        : [{ urn: topic.urn, message: `topic ${topic.name} accepts publishing without TLS: add a Deny statement on aws:SecureTransport false` }];
    });
  },
);

export const sqsQueueTlsOnly = stackRule(
  {
    name: "sqs-queue-tls-only",
    description:
      "Every SQS queue's policy denies all SQS actions without TLS (aws:SecureTransport false) (cdk-nag AwsSolutions-SQS4).",
    remediation: "Add a QueuePolicy statement: Deny, Principal *, sqs:*, Condition Bool aws:SecureTransport false.",
  },
  (args) => {
    const policies = ofType(args, T.queuePolicy);
    return ofType(args, T.queue).flatMap((queue) => {
      const url = str(queue.props.url);
      const documents = [
        policyOf(queue.props.policy),
        ...policies.filter((p) => url !== undefined && p.props.queueUrl === url).map((p) => policyOf(p.props.policy)),
      ];
      return anyDeniesWithoutTls(documents, ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"])
        ? []
        : [{ urn: queue.urn, message: `queue ${queue.name} accepts requests without TLS: deny sqs:* when aws:SecureTransport is false` }];
    });
  },
);
