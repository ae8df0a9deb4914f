import { resourceRule, ofType, stackRule, type Finding } from "../rule";
import { bool, num, str } from "../read";
import { T } from "../resource-types";
import { functionNamed } from "./messaging";

// The event source mappings on DynamoDB streams (the outbox relays of services): what makes a stream consumer safe
// to leave running. A stream, unlike a queue, blocks its shard while a batch fails: without bounds a poison record
// stops every record behind it for the stream's whole retention (24 hours), and then they are gone.

/** Whether an ARN names a DynamoDB table's stream (`arn:<partition>:dynamodb:<region>:<account>:table/<t>/stream/<label>`). */
export function isDynamoDbStreamArn(arn: unknown): boolean {
  return /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\//.test(str(arn) ?? "");
}

const onDynamoDbStream = (args: { type: string; props: Record<string, any> }) =>
  args.type === T.eventSourceMapping && isDynamoDbStreamArn(args.props.eventSourceArn);

export const dynamodbStreamMappingFilter = resourceRule(
  {
    name: "dynamodb-stream-mapping-filter",
    description:
      "An event source mapping on a DynamoDB stream has filter criteria, so its function is invoked only for the records it handles (AWS Lambda developer guide, event filtering: records a filter drops cost no invocation).",
    remediation: "Set filterCriteria { filters: [{ pattern }] } (the OutboxRelay filters on INSERTs of the service's outbox items).",
  },
  (args) => {
    if (!onDynamoDbStream(args)) return [];
    const filters = args.props.filterCriteria?.filters;
    const patterns = Array.isArray(filters) ? filters.filter((f: { pattern?: unknown }) => (str(f?.pattern) ?? "").trim() !== "") : [];
    return patterns.length ? [] : [{ message: `mapping ${args.name} on a DynamoDB stream has no filter criteria: every write to the table invokes its function` }];
  },
);

export const dynamodbStreamMappingBisect = resourceRule(
  {
    name: "dynamodb-stream-mapping-bisect",
    description:
      "An event source mapping on a DynamoDB stream splits a failing batch (BisectBatchOnFunctionError), so one bad record is retried alone instead of holding back the batch (AWS Lambda developer guide, DynamoDB Streams error handling).",
    remediation: "Set bisectBatchOnFunctionError: true.",
  },
  (args) =>
    onDynamoDbStream(args) && bool(args.props.bisectBatchOnFunctionError) !== true
      ? [{ message: `mapping ${args.name} on a DynamoDB stream does not bisect a failing batch` }]
      : [],
);

export const dynamodbStreamMappingBoundedRetries = resourceRule(
  {
    name: "dynamodb-stream-mapping-bounded-retries",
    description:
      "An event source mapping on a DynamoDB stream bounds its retries and the age of the records it retries (MaximumRetryAttempts, MaximumRecordAgeInSeconds; both default to -1, infinite), so a record that keeps failing does not block its shard until the stream drops it (AWS Lambda developer guide, DynamoDB Streams error handling).",
    remediation: "Set maximumRetryAttempts (0 to 10000) and maximumRecordAgeInSeconds (60 to 604800).",
  },
  (args) => {
    if (!onDynamoDbStream(args)) return [];
    const problems: string[] = [];
    const retries = num(args.props.maximumRetryAttempts);
    if (retries === undefined || retries < 0) problems.push(`maximumRetryAttempts is ${retries ?? "unset"} (infinite)`);
    const age = num(args.props.maximumRecordAgeInSeconds);
    if (age === undefined || age < 0) problems.push(`maximumRecordAgeInSeconds is ${age ?? "unset"} (infinite)`);
    return problems.length ? [{ message: `mapping ${args.name} on a DynamoDB stream retries without bound: ${problems.join("; ")}` }] : [];
  },
);

export const dynamodbStreamMappingOnFailure = resourceRule(
  {
    name: "dynamodb-stream-mapping-on-failure-destination",
    description:
      "An event source mapping on a DynamoDB stream has an on-failure destination, so a batch it gives up on is recorded (its shard and sequence numbers) instead of silently skipped (AWS Lambda developer guide, retaining records of failed batches).",
    remediation: "Set destinationConfig { onFailure: { destinationArn } } to an encrypted SQS queue (the OutboxRelay's failure queue).",
  },
  (args) =>
    onDynamoDbStream(args) && !str(args.props.destinationConfig?.onFailure?.destinationArn)
      ? [{ message: `mapping ${args.name} on a DynamoDB stream has no on-failure destination: records it gives up on leave no trace` }]
      : [],
);

export const dynamodbStreamMappingIteratorAgeAlarm = stackRule(
  {
    name: "dynamodb-stream-mapping-iterator-age-alarm",
    description:
      "The function of an event source mapping on a DynamoDB stream has an IteratorAge alarm with an action, so a consumer that falls behind (records close to the stream's 24-hour retention) reaches a person (AWS Lambda developer guide, stream metrics: IteratorAge; Well-Architected Serverless Lens, operational excellence).",
    remediation: "Add a CloudWatch alarm on AWS/Lambda IteratorAge for the function (dimension FunctionName) with alarmActions (the OutboxRelay adds one on the platform's alarm topic).",
  },
  (args) =>
    ofType(args, T.eventSourceMapping)
      .filter((m) => isDynamoDbStreamArn(m.props.eventSourceArn))
      .flatMap((mapping): Finding[] => {
        const fn = functionNamed(args, mapping.props.functionName);
        const name = fn ? str(fn.props.name) : str(mapping.props.functionName);
        const alarmed = ofType(args, T.metricAlarm).some(
          (alarm) =>
            alarm.props.namespace === "AWS/Lambda" &&
            alarm.props.metricName === "IteratorAge" &&
            name !== undefined &&
            alarm.props.dimensions?.FunctionName === name &&
            Array.isArray(alarm.props.alarmActions) &&
            alarm.props.alarmActions.length > 0,
        );
        return alarmed ? [] : [{ urn: mapping.urn, message: `mapping ${mapping.name} on a DynamoDB stream: function ${name ?? "?"} has no IteratorAge alarm with an action` }];
      }),
);
