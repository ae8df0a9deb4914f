import { resourceRule, ofType, stackRule, type Finding } from "../rule";
import { bool, num, stackOfUrn, str } from "../read";
import { T } from "../resource-types";
import { PRODUCTION_STAGES } from "./data";
import { functionNamed } from "./messaging";

// Kinesis data streams (stream events, `ordering: "stream"`) and the event source mappings that read them. A stream,
// unlike a queue, keeps its records in order per shard: a batch that fails blocks the records behind it, so a
// consumer is safe to leave running only with bounded retries, a place for what it gives up on and an alarm when it
// falls behind.

/** Pulumi type tokens of the Kinesis resources these rules read. */
export const KINESIS_TYPES = {
  stream: "aws:kinesis/stream:Stream",
  streamConsumer: "aws:kinesis/streamConsumer:StreamConsumer",
} as const;

/** Kinesis keeps records 24 hours to 365 days. */
export const KINESIS_RETENTION_HOURS = { min: 24, max: 8760 } as const;
/** A production stage keeps a stream's records at least a week: on-failure records name a sequence range, not the data. */
export const KINESIS_PRODUCTION_MIN_RETENTION_HOURS = 168;
/** Lambda's cap on a Kinesis mapping's parallelization factor (concurrent batches per shard). */
export const KINESIS_MAX_PARALLELIZATION_FACTOR = 10;

/** Whether an ARN names a Kinesis data stream or one of its enhanced fan-out consumers. */
export function isKinesisArn(arn: unknown): boolean {
  return /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\//.test(str(arn) ?? "");
}

const onKinesis = (args: { type: string; props: Record<string, any> }) => args.type === T.eventSourceMapping && isKinesisArn(args.props.eventSourceArn);

export const kinesisStreamEncrypted = resourceRule(
  {
    name: "kinesis-stream-encrypted",
    description:
      "A Kinesis data stream is encrypted at rest with a customer managed KMS key (encryptionType KMS, a key other than alias/aws/kinesis), so who may read its records is decided by the key's grants too (cdk-nag AwsSolutions-KDS1; Checkov CKV_AWS_43, CKV_AWS_185).",
    remediation: 'Set encryptionType: "KMS" and kmsKeyId to the platform\'s events key (the platform\'s createStreams does).',
  },
  (args) => {
    if (args.type !== KINESIS_TYPES.stream) return [];
    if (str(args.props.encryptionType) !== "KMS") return [{ message: `stream ${args.name} is not encrypted (encryptionType ${str(args.props.encryptionType) ?? "unset"})` }];
    const key = str(args.props.kmsKeyId);
    if (!key || /alias\/aws\/kinesis$/.test(key)) {
      return [{ message: `stream ${args.name} is encrypted with ${key ?? "no key"}, not a customer managed key: its key policy cannot be audited or scoped` }];
    }
    return [];
  },
);

export const kinesisStreamRetention = resourceRule(
  {
    name: "kinesis-stream-retention",
    description:
      `A Kinesis data stream sets its retention explicitly within Kinesis's 24 to 8,760 hours, and at least ${KINESIS_PRODUCTION_MIN_RETENTION_HOURS} hours in a production stage: the on-failure record of a batch a consumer gives up on names a shard and sequence range, not the data, so the records must still be in the stream when someone reads them (AWS Kinesis developer guide, changing the data retention period; Well-Architected Serverless Lens, failure handling).`,
    remediation: "Set retentionPeriod (hours; platform:streamRetentionHours, 168 or more in prod).",
  },
  (args) => {
    if (args.type !== KINESIS_TYPES.stream) return [];
    const hours = num(args.props.retentionPeriod);
    if (hours === undefined) return [{ message: `stream ${args.name} sets no retentionPeriod (Kinesis keeps 24 hours by default)` }];
    if (hours < KINESIS_RETENTION_HOURS.min || hours > KINESIS_RETENTION_HOURS.max) {
      return [{ message: `stream ${args.name} keeps records ${hours} hours; Kinesis accepts ${KINESIS_RETENTION_HOURS.min} to ${KINESIS_RETENTION_HOURS.max}` }];
    }
    const stage = stackOfUrn(args.urn);
    if (stage && (PRODUCTION_STAGES as readonly string[]).includes(stage) && hours < KINESIS_PRODUCTION_MIN_RETENTION_HOURS) {
      return [{ message: `stream ${args.name} keeps records ${hours} hours in production stage ${stage}; at least ${KINESIS_PRODUCTION_MIN_RETENTION_HOURS} hours, so failed batches can be read back` }];
    }
    return [];
  },
);

export const kinesisMappingOnFailureDestination = resourceRule(
  {
    name: "kinesis-mapping-on-failure-destination",
    description:
      "An event source mapping on a Kinesis stream has an on-failure destination, so a batch it gives up on is recorded (shard and sequence range) instead of silently skipped (AWS Lambda developer guide, Kinesis error handling: on-failure destinations).",
    remediation: "Set destinationConfig { onFailure: { destinationArn } } to an encrypted SQS queue (the EventConsumer's on-failure queue).",
  },
  (args) =>
    onKinesis(args) && !str(args.props.destinationConfig?.onFailure?.destinationArn)
      ? [{ message: `mapping ${args.name} on a Kinesis stream has no on-failure destination: batches it gives up on leave no trace` }]
      : [],
);

export const kinesisMappingBisect = resourceRule(
  {
    name: "kinesis-mapping-bisect",
    description:
      "An event source mapping on a Kinesis stream splits a failing batch (BisectBatchOnFunctionError) and reports partial batch failures (ReportBatchItemFailures), so one bad record is retried alone and the records before it are checkpointed (AWS Lambda developer guide, Kinesis error handling and partial batch responses).",
    remediation: 'Set bisectBatchOnFunctionError: true and functionResponseTypes: ["ReportBatchItemFailures"].',
  },
  (args) => {
    if (!onKinesis(args)) return [];
    const problems: string[] = [];
    if (bool(args.props.bisectBatchOnFunctionError) !== true) problems.push("does not bisect a failing batch");
    const types = Array.isArray(args.props.functionResponseTypes) ? (args.props.functionResponseTypes as unknown[]) : [];
    if (!types.includes("ReportBatchItemFailures")) problems.push("does not report partial batch failures");
    return problems.length ? [{ message: `mapping ${args.name} on a Kinesis stream ${problems.join(" and ")}` }] : [];
  },
);

export const kinesisMappingBoundedRetries = resourceRule(
  {
    name: "kinesis-mapping-bounded-retries",
    description:
      "An event source mapping on a Kinesis stream bounds its retries and the age of the records it retries (MaximumRetryAttempts 0 to 10,000, MaximumRecordAgeInSeconds 60 to 604,800; both default to -1, infinite), so a record that keeps failing does not block its shard until the stream drops it (AWS Lambda developer guide, Kinesis error handling).",
    remediation: "Set maximumRetryAttempts and maximumRecordAgeInSeconds (the EventConsumer's stream.maxRetryAttempts and stream.maxRecordAgeSeconds).",
  },
  (args) => {
    if (!onKinesis(args)) return [];
    const problems: string[] = [];
    const retries = num(args.props.maximumRetryAttempts);
    if (retries === undefined || retries < 0) problems.push(`maximumRetryAttempts is ${retries ?? "unset"} (infinite)`);
    const age = num(args.props.maximumRecordAgeInSeconds);
    if (age === undefined || age < 0) problems.push(`maximumRecordAgeInSeconds is ${age ?? "unset"} (infinite)`);
    return problems.length ? [{ message: `mapping ${args.name} on a Kinesis stream retries without bound: ${problems.join("; ")}` }] : [];
  },
);

export const kinesisMappingIteratorAgeAlarm = stackRule(
  {
    name: "kinesis-mapping-iterator-age-alarm",
    description:
      "The function of an event source mapping on a Kinesis stream has an IteratorAge alarm with an action, so a consumer that falls behind or is stuck on a failing batch reaches a person before its records age out (AWS Lambda developer guide, stream metrics: IteratorAge; Well-Architected Serverless Lens, operational excellence).",
    remediation: "Add a CloudWatch alarm on AWS/Lambda IteratorAge for the function (dimension FunctionName) with alarmActions (the EventConsumer adds one on the platform's alarm topic).",
  },
  (args) =>
    ofType(args, T.eventSourceMapping)
      .filter((m) => isKinesisArn(m.props.eventSourceArn))
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
        return alarmed ? [] : [{ urn: mapping.urn, message: `mapping ${mapping.name} on a Kinesis stream: function ${name ?? "?"} has no IteratorAge alarm with an action` }];
      }),
);

export const kinesisMappingBoundedConcurrency = stackRule(
  {
    name: "kinesis-mapping-bounded-concurrency",
    description:
      `An event source mapping on a Kinesis stream sets its parallelization factor (1 to ${KINESIS_MAX_PARALLELIZATION_FACTOR}); above 1 its function has reserved concurrency: the mapping runs shards x factor batches at once, and an on-demand stream adds shards by itself, so only reserved concurrency keeps it from exhausting the account or a dependency (AWS Lambda developer guide, Kinesis polling and parallelization factor; Well-Architected Serverless Lens, reliability).`,
    remediation: "Set parallelizationFactor (the EventConsumer's stream.parallelizationFactor, default 1); above 1, set the function's reservedConcurrency.",
  },
  (args) =>
    ofType(args, T.eventSourceMapping)
      .filter((m) => isKinesisArn(m.props.eventSourceArn))
      .flatMap((mapping): Finding[] => {
        const factor = num(mapping.props.parallelizationFactor);
        if (factor === undefined || !Number.isInteger(factor) || factor < 1 || factor > KINESIS_MAX_PARALLELIZATION_FACTOR) {
          return [{ urn: mapping.urn, message: `mapping ${mapping.name} on a Kinesis stream sets parallelizationFactor ${factor ?? "unset"}; set 1 to ${KINESIS_MAX_PARALLELIZATION_FACTOR}` }];
        }
        if (factor === 1) return [];
        const fn = functionNamed(args, mapping.props.functionName);
        if (fn && (num(fn.props.reservedConcurrentExecutions) ?? -1) >= 1) return [];
        return [
          {
            urn: mapping.urn,
            message: `mapping ${mapping.name} on a Kinesis stream runs ${factor} batches per shard, and function ${fn ? str(fn.props.name) : str(mapping.props.functionName)} has no reserved concurrency: shards x ${factor} invocations, unbounded as the stream adds shards`,
          },
        ];
      }),
);
