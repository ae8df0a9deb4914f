import type { PolicyResource } from "@pulumi/policy";
import { resourceRule, ofType, stackRule, type Finding } from "../rule";
import { asList } from "../../helpers/policy-document";
import { num, str } from "../read";
import { T } from "../resource-types";
import { deadLetterQueueArns } from "./messaging";

export const lambdaTracingActive = resourceRule(
  {
    name: "lambda-tracing-active",
    description: "Functions use active tracing (cdk-nag Serverless-LambdaTracing; Checkov CKV_AWS_50).",
    remediation: 'Set tracingConfig: { mode: "Active" } (the ServiceFunction follows the platform\'s tracing mode).',
  },
  (args) =>
    args.type === T.function && args.props.tracingConfig?.mode !== "Active"
      ? [{ message: `function ${args.name} does not use active tracing` }]
      : [],
);

export const snsTopicTracingActive = resourceRule(
  {
    name: "sns-topic-tracing-active",
    description:
      "SNS topics use active tracing, so traces follow events from publisher to consumer (Well-Architected Serverless Lens, operational excellence: distributed tracing).",
    remediation: 'Set tracingConfig: "Active" on the topic.',
  },
  (args) =>
    args.type === T.topic && args.props.tracingConfig !== "Active" ? [{ message: `topic ${args.name} does not use active tracing` }] : [],
);

export const logGroupRetention = resourceRule(
  {
    name: "log-group-retention",
    description: "Log groups set a retention period instead of keeping logs forever (cdk-nag Serverless-CloudWatchLogGroupRetentionPeriod; Checkov CKV_AWS_66).",
    remediation: "Set retentionInDays (the components use the platform's retention for the stage).",
  },
  (args) =>
    args.type === T.logGroup && !((num(args.props.retentionInDays) ?? 0) > 0)
      ? [{ message: `log group ${args.name} keeps its logs forever: set retentionInDays` }]
      : [],
);

function watchesDepth(alarm: PolicyResource, queueName: string): boolean {
  const p = alarm.props;
  const threshold = num(p.threshold);
  const triggersOnFirst =
    (p.comparisonOperator === "GreaterThanThreshold" && threshold !== undefined && threshold < 1) ||
    (p.comparisonOperator === "GreaterThanOrEqualToThreshold" && threshold !== undefined && threshold <= 1);
  return (
    p.namespace === "AWS/SQS" &&
    p.metricName === "ApproximateNumberOfMessagesVisible" &&
    p.dimensions?.QueueName === queueName &&
    triggersOnFirst &&
    asList(p.alarmActions as string[] | undefined).length > 0
  );
}

export const sqsDlqAlarm = stackRule(
  {
    name: "sqs-dlq-alarm",
    description:
      "Every dead-letter queue has an alarm on ApproximateNumberOfMessagesVisible > 0 with an alarm action, so a dead letter reaches a person (Well-Architected Serverless Lens, operational excellence: alert on dead-letter queues).",
    remediation: "Add a CloudWatch MetricAlarm on the DLQ notifying the platform's alarm topic (the EventConsumer does).",
  },
  (args) => {
    const alarms = ofType(args, T.metricAlarm);
    const dlqs = deadLetterQueueArns(args);
    return ofType(args, T.queue)
      .filter((q) => dlqs.has(String(q.props.arn)))
      .flatMap((dlq): Finding[] => {
        const name = str(dlq.props.name);
        return name && alarms.some((a) => watchesDepth(a, name))
          ? []
          : [{ urn: dlq.urn, message: `dead-letter queue ${dlq.name} has no alarm on its depth that notifies someone` }];
      });
  },
);

export const apiAccessLogging = resourceRule(
  {
    name: "api-access-logging",
    description:
      "API Gateway stages write access logs (cdk-nag AwsSolutions-APIG1 and Serverless-APIGWAccessLogging; Checkov CKV_AWS_76).",
    remediation: "Set accessLogSettings { destinationArn, format } on the stage (the HttpApi does, as JSON).",
  },
  (args) =>
    args.type === T.apiStage && !(str(args.props.accessLogSettings?.destinationArn) && str(args.props.accessLogSettings?.format))
      ? [{ message: `API stage ${args.name} writes no access logs` }]
      : [],
);
