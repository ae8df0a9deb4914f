import { resourceRule } from "../rule";
import { num, stackOfUrn, str } from "../read";
import { PRODUCTION_STAGES } from "./data";
import { isKinesisArn, KINESIS_MAX_PARALLELIZATION_FACTOR } from "./stream-mappings";

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
// The mappings' rules (bisect, bounded retries, on-failure destination, IteratorAge alarm, parallelization factor,
// accepted settings) are the stream-mapping family's (stream-mappings.ts), shared with DynamoDB Streams.
export { isKinesisArn, KINESIS_MAX_PARALLELIZATION_FACTOR };

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
