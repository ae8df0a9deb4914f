import type { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { resourceRule, ofType, stackRule, type Finding } from "../rule";
import { asList } from "../../helpers/policy-document";
import { json, num, str } from "../read";
import { T } from "../resource-types";

/** SQS's defaults when a queue does not set them. */
const SQS_DEFAULTS = { retention: 345_600, visibility: 30 } as const;
/** Lambda's default timeout. */
const LAMBDA_DEFAULT_TIMEOUT = 3;

function deadLetterTarget(redrivePolicy: unknown): string | undefined {
  return str(json(redrivePolicy)?.deadLetterTargetArn);
}

function queueByArn(args: StackValidationArgs, arn: string | undefined): PolicyResource | undefined {
  return arn === undefined ? undefined : ofType(args, T.queue).find((q) => q.props.arn === arn);
}

/** ARNs of the queues some queue or subscription uses as its dead-letter queue. */
export function deadLetterQueueArns(args: StackValidationArgs): Set<string> {
  const arns = [
    ...ofType(args, T.queue).map((q) => deadLetterTarget(q.props.redrivePolicy)),
    ...ofType(args, T.subscription).map((s) => deadLetterTarget(s.props.redrivePolicy)),
    // A stream event source mapping's on-failure destination is where its dead batches go.
    ...ofType(args, T.eventSourceMapping).map((m) => str((m.props.destinationConfig as { onFailure?: { destinationArn?: unknown } } | undefined)?.onFailure?.destinationArn)),
  ];
  return new Set(arns.filter((a): a is string => a !== undefined));
}

/** The function an event source mapping or permission names (by name, ARN or qualified ARN). */
export function functionNamed(args: StackValidationArgs, ref: unknown): PolicyResource | undefined {
  const value = str(ref);
  if (value === undefined) return undefined;
  return ofType(args, T.function).find((fn) => {
    const arn = str(fn.props.arn);
    return value === fn.props.name || value === arn || (arn !== undefined && value.startsWith(`${arn}:`));
  });
}

export const sqsSourceQueueHasDlq = stackRule(
  {
    name: "sqs-source-queue-has-dlq",
    description:
      "Every SQS queue that is not itself a dead-letter queue redrives to one after maxReceiveCount deliveries (cdk-nag AwsSolutions-SQS3 and Serverless-SQSRedrivePolicy).",
    remediation: "Set redrivePolicy { deadLetterTargetArn, maxReceiveCount } on the queue (the EventConsumer does, maxReceiveCount 5).",
  },
  (args) => {
    const dlqs = deadLetterQueueArns(args);
    return ofType(args, T.queue).flatMap((queue): Finding[] => {
      if (dlqs.has(String(queue.props.arn))) return [];
      const redrive = json(queue.props.redrivePolicy);
      if (!str(redrive?.deadLetterTargetArn) || !((num(redrive?.maxReceiveCount) ?? 0) >= 1)) {
        return [{ urn: queue.urn, message: `queue ${queue.name} has no dead-letter queue: a poison message would be retried until it expires` }];
      }
      return [];
    });
  },
);

export const snsSubscriptionHasDlq = resourceRule(
  {
    name: "sns-subscription-has-dlq",
    description:
      "Every SNS subscription has a redrive policy to a dead-letter queue, so undeliverable messages are kept (cdk-nag Serverless-SNSRedrivePolicy).",
    remediation: "Set redrivePolicy { deadLetterTargetArn } on the subscription (the EventConsumer does).",
  },
  (args) =>
    args.type === T.subscription && !deadLetterTarget(args.props.redrivePolicy)
      ? [{ message: `subscription ${args.name} (${String(args.props.protocol)}) has no dead-letter queue` }]
      : [],
);

export const sqsDlqRetentionLonger = stackRule(
  {
    name: "sqs-dlq-retention-longer",
    description:
      "A dead-letter queue keeps messages longer than its source queue: SQS keeps a message's original enqueue time on redrive, so a shorter retention would drop it (AWS SQS developer guide, dead-letter queues; Well-Architected Serverless Lens, failure handling).",
    remediation: "Give the DLQ messageRetentionSeconds 1209600 (14 days) and the source queue less.",
  },
  (args) =>
    ofType(args, T.queue).flatMap((queue): Finding[] => {
      const dlq = queueByArn(args, deadLetterTarget(queue.props.redrivePolicy));
      if (!dlq) return [];
      const source = num(queue.props.messageRetentionSeconds) ?? SQS_DEFAULTS.retention;
      const kept = num(dlq.props.messageRetentionSeconds) ?? SQS_DEFAULTS.retention;
      return kept > source
        ? []
        : [{ urn: dlq.urn, message: `dead-letter queue ${dlq.name} keeps messages ${kept}s, not longer than its source ${queue.name} (${source}s)` }];
    }),
);

export const sqsVisibilityTimeout = stackRule(
  {
    name: "sqs-visibility-timeout",
    description:
      "A queue read by a Lambda event source mapping has a visibility timeout of at least 6 times the function's timeout (cdk-nag Serverless LambdaEventSourceSQSVisibilityTimeout; AWS Lambda developer guide).",
    remediation: "Raise the queue's visibilityTimeoutSeconds (the EventConsumer sets 6 x timeout + batching window).",
  },
  (args) =>
    ofType(args, T.eventSourceMapping).flatMap((mapping): Finding[] => {
      const queue = queueByArn(args, str(mapping.props.eventSourceArn));
      const fn = functionNamed(args, mapping.props.functionName);
      if (!queue || !fn) return [];
      const visibility = num(queue.props.visibilityTimeoutSeconds) ?? SQS_DEFAULTS.visibility;
      const timeout = num(fn.props.timeout) ?? LAMBDA_DEFAULT_TIMEOUT;
      return visibility >= 6 * timeout
        ? []
        : [{ urn: queue.urn, message: `queue ${queue.name} hides a message ${visibility}s, less than 6 x the timeout of ${fn.name} (${timeout}s)` }];
    }),
);

export const sqsPartialBatchResponses = resourceRule(
  {
    name: "sqs-partial-batch-responses",
    description:
      "SQS event source mappings report partial batch failures (ReportBatchItemFailures), so one bad message does not send its whole batch back (Well-Architected Serverless Lens, reliability; AWS Lambda developer guide, partial batch responses).",
    remediation: 'Set functionResponseTypes: ["ReportBatchItemFailures"] and return batchItemFailures from the handler.',
  },
  (args) => {
    if (args.type !== T.eventSourceMapping) return [];
    const source = str(args.props.eventSourceArn);
    if (!source || !/^arn:aws[a-z-]*:sqs:/.test(source)) return [];
    const types = asList(args.props.functionResponseTypes as string[] | undefined);
    return types.includes("ReportBatchItemFailures")
      ? []
      : [{ message: `event source mapping ${args.name} does not report partial batch failures` }];
  },
);
