import type { ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import type { RuleName } from "../rule-names";
import { ofType, resourceRule, stackRule, type Finding, type GuardrailPolicy } from "../rule";
import { actionCovers, actionsOf, bool, conditionValues, num, policyOf, principalsOf, resourcesOf, str } from "../read";
import { T } from "../resource-types";
import { functionNamed } from "./messaging";
import { roleOf, roleStatements } from "./workflows";

// One family of rules for the event source mappings that read a stream: a DynamoDB table's stream (the outbox relays)
// and a Kinesis data stream (the consumers of stream events). Lambda treats both alike: it reads a shard in order, a
// batch that fails blocks the records behind it, and the same settings bound that (bisect, partial batch responses,
// retries and record age, an on-failure destination, an IteratorAge alarm, the parallelization factor). Each check is
// written once here and applied to both sources; the rule names are those each source had before the family.

/** Whether an ARN names a DynamoDB table's stream (`arn:<partition>:dynamodb:<region>:<account>:table/<t>/stream/<label>`). */
export function isDynamoDbStreamArn(arn: unknown): boolean {
  return /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\//.test(str(arn) ?? "");
}

/** Whether an ARN names a Kinesis data stream or one of its enhanced fan-out consumers. */
export function isKinesisArn(arn: unknown): boolean {
  return /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\//.test(str(arn) ?? "");
}

/** Lambda's bounds on a stream mapping's settings (AWS Lambda developer guide, CreateEventSourceMapping). */
export const STREAM_MAPPING_LIMITS = {
  batchSize: { min: 1, max: 10_000 },
  maximumRetryAttempts: { min: -1, max: 10_000 },
  /** -1 (infinite) or 60 to 604,800 seconds. */
  maximumRecordAgeInSeconds: { min: 60, max: 604_800 },
  parallelizationFactor: { min: 1, max: 10 },
  maximumBatchingWindowInSeconds: { min: 0, max: 300 },
  tumblingWindowInSeconds: { min: 0, max: 900 },
} as const;
/** Lambda's cap on a stream mapping's parallelization factor (concurrent batches per shard). */
export const KINESIS_MAX_PARALLELIZATION_FACTOR = STREAM_MAPPING_LIMITS.parallelizationFactor.max;

/** A stream source Lambda reads through an event source mapping. */
export interface StreamSource {
  /** Rule-name prefix (`<prefix>-bisect`, ...). */
  prefix: "dynamodb-stream-mapping" | "kinesis-mapping";
  /** How messages name it: `mapping m on a Kinesis stream ...`. */
  label: string;
  matches: (arn: unknown) => boolean;
  /** The starting positions Lambda accepts for it. */
  startingPositions: readonly string[];
  /** What the on-failure record names, for the descriptions. */
  failedRecord: string;
  /** The component that sets these, for the remediations. */
  component: string;
}

export const STREAM_SOURCES = {
  dynamodb: {
    prefix: "dynamodb-stream-mapping",
    label: "a DynamoDB stream",
    matches: isDynamoDbStreamArn,
    // AT_TIMESTAMP is for Kinesis (and Kafka, DocumentDB) only: CreateEventSourceMapping refuses it on DynamoDB Streams.
    startingPositions: ["TRIM_HORIZON", "LATEST"],
    failedRecord: "its shard and sequence numbers",
    component: "the OutboxRelay",
  },
  kinesis: {
    prefix: "kinesis-mapping",
    label: "a Kinesis stream",
    matches: isKinesisArn,
    startingPositions: ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"],
    failedRecord: "its shard and sequence range",
    component: "the EventConsumer",
  },
} as const satisfies Record<string, StreamSource>;

type Props = Record<string, any>;
const onSource = (source: StreamSource, args: { type: string; props: Props }) => args.type === T.eventSourceMapping && source.matches(args.props.eventSourceArn);
const mappingsOn = (source: StreamSource, args: StackValidationArgs) => ofType(args, T.eventSourceMapping).filter((m) => source.matches(m.props.eventSourceArn));
const ruleName = (source: StreamSource, concern: string) => `${source.prefix}-${concern}` as RuleName;
/** The services Lambda sends a stream mapping's on-failure records to (an SQS queue, an SNS topic, an S3 bucket). */
const ON_FAILURE_DESTINATION = /^arn:[^:]+:(sqs|sns|s3):/;

/** Bisect a failing batch and report partial batch failures. */
export function streamMappingBisect(source: StreamSource): GuardrailPolicy {
  return resourceRule(
    {
      name: ruleName(source, "bisect"),
      description: `An event source mapping on ${source.label} splits a failing batch (BisectBatchOnFunctionError) and reports partial batch failures (ReportBatchItemFailures), so one bad record is retried alone and the records before it are checkpointed (AWS Lambda developer guide, stream error handling and partial batch responses).`,
      remediation: `Set bisectBatchOnFunctionError: true and functionResponseTypes: ["ReportBatchItemFailures"] (${source.component} does).`,
    },
    (args: ResourceValidationArgs): Finding[] => {
      if (!onSource(source, args)) return [];
      const problems: string[] = [];
      if (bool(args.props.bisectBatchOnFunctionError) !== true) problems.push("does not bisect a failing batch");
      const types = Array.isArray(args.props.functionResponseTypes) ? (args.props.functionResponseTypes as unknown[]) : [];
      if (!types.includes("ReportBatchItemFailures")) problems.push("does not report partial batch failures");
      return problems.length ? [{ message: `mapping ${args.name} on ${source.label} ${problems.join(" and ")}` }] : [];
    },
  );
}

/** Bounded retries and record age. */
export function streamMappingBoundedRetries(source: StreamSource): GuardrailPolicy {
  return resourceRule(
    {
      name: ruleName(source, "bounded-retries"),
      description: `An event source mapping on ${source.label} bounds its retries and the age of the records it retries (MaximumRetryAttempts 0 to 10,000, MaximumRecordAgeInSeconds 60 to 604,800; both default to -1, infinite), so a record that keeps failing does not block its shard until the stream drops it (AWS Lambda developer guide, stream error handling).`,
      remediation: `Set maximumRetryAttempts and maximumRecordAgeInSeconds (${source.component} does).`,
    },
    (args) => {
      if (!onSource(source, args)) return [];
      const problems: string[] = [];
      const retries = num(args.props.maximumRetryAttempts);
      if (retries === undefined || retries < 0) problems.push(`maximumRetryAttempts is ${retries ?? "unset"} (infinite)`);
      const age = num(args.props.maximumRecordAgeInSeconds);
      if (age === undefined || age < 0) problems.push(`maximumRecordAgeInSeconds is ${age ?? "unset"} (infinite)`);
      return problems.length ? [{ message: `mapping ${args.name} on ${source.label} retries without bound: ${problems.join("; ")}` }] : [];
    },
  );
}

/** An on-failure destination of a kind Lambda accepts. */
export function streamMappingOnFailureDestination(source: StreamSource): GuardrailPolicy {
  return resourceRule(
    {
      name: ruleName(source, "on-failure-destination"),
      description: `An event source mapping on ${source.label} has an on-failure destination (an SQS queue, SNS topic or S3 bucket: Lambda refuses anything else), so a batch it gives up on is recorded (${source.failedRecord}) instead of silently skipped (AWS Lambda developer guide, retaining records of failed batches).`,
      remediation: `Set destinationConfig { onFailure: { destinationArn } } to an encrypted SQS queue (${source.component}'s failure queue).`,
    },
    (args) => {
      if (!onSource(source, args)) return [];
      const destination = str(args.props.destinationConfig?.onFailure?.destinationArn);
      if (!destination) return [{ message: `mapping ${args.name} on ${source.label} has no on-failure destination: batches it gives up on leave no trace` }];
      if (!ON_FAILURE_DESTINATION.test(destination)) {
        return [{ message: `mapping ${args.name} on ${source.label} sends failed batches to ${destination}: Lambda accepts only an SQS queue, an SNS topic or an S3 bucket` }];
      }
      return [];
    },
  );
}

/** An IteratorAge alarm with an action on the mapping's function. */
export function streamMappingIteratorAgeAlarm(source: StreamSource): GuardrailPolicy {
  return stackRule(
    {
      name: ruleName(source, "iterator-age-alarm"),
      description: `The function of an event source mapping on ${source.label} has an IteratorAge alarm with an action, so a consumer that falls behind or is stuck on a failing batch reaches a person before its records age out of the stream (AWS Lambda developer guide, stream metrics: IteratorAge; Well-Architected Serverless Lens, operational excellence).`,
      remediation: `Add a CloudWatch alarm on AWS/Lambda IteratorAge for the function (dimension FunctionName) with alarmActions (${source.component} adds one on the platform's alarm topic).`,
    },
    (args) =>
      mappingsOn(source, args).flatMap((mapping): Finding[] => {
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
        return alarmed ? [] : [{ urn: mapping.urn, message: `mapping ${mapping.name} on ${source.label}: function ${name ?? "?"} has no IteratorAge alarm with an action` }];
      }),
  );
}

/** A set parallelization factor; above 1, reserved concurrency on the function. */
export function streamMappingBoundedConcurrency(source: StreamSource): GuardrailPolicy {
  const { min, max } = STREAM_MAPPING_LIMITS.parallelizationFactor;
  return stackRule(
    {
      name: ruleName(source, "bounded-concurrency"),
      description: `An event source mapping on ${source.label} sets its parallelization factor (${min} to ${max}); above 1 its function has reserved concurrency: the mapping runs shards x factor batches at once, and the stream can add shards by itself (a Kinesis stream on demand, a DynamoDB table as it grows), so only reserved concurrency keeps it from exhausting the account or a dependency (AWS Lambda developer guide, polling and parallelization factor; Well-Architected Serverless Lens, reliability).`,
      remediation: "Set parallelizationFactor (the EventConsumer's stream.parallelizationFactor, default 1; the OutboxRelay sets 1); above 1, set the function's reservedConcurrency.",
    },
    (args) =>
      mappingsOn(source, args).flatMap((mapping): Finding[] => {
        const factor = num(mapping.props.parallelizationFactor);
        if (factor === undefined || !Number.isInteger(factor) || factor < min || factor > max) {
          return [{ urn: mapping.urn, message: `mapping ${mapping.name} on ${source.label} sets parallelizationFactor ${factor ?? "unset"}; set ${min} to ${max}` }];
        }
        if (factor === 1) return [];
        const fn = functionNamed(args, mapping.props.functionName);
        if (fn && (num(fn.props.reservedConcurrentExecutions) ?? -1) >= 1) return [];
        return [
          {
            urn: mapping.urn,
            message: `mapping ${mapping.name} on ${source.label} runs ${factor} batches per shard, and function ${fn ? str(fn.props.name) : str(mapping.props.functionName)} has no reserved concurrency: shards x ${factor} invocations, unbounded as the stream adds shards`,
          },
        ];
      }),
  );
}

/** The action the function's role needs to send a failed batch's record to each kind of destination. */
const ON_FAILURE_ACTION: Record<string, string> = { sqs: "sqs:SendMessage", sns: "sns:Publish", s3: "s3:PutObject" };
/** Whether an IAM resource pattern (`*` and `?` wildcards) covers an ARN. */
const resourceCovers = (pattern: string, arn: string) =>
  new RegExp(`^${pattern.split(/([*?])/).map((part) => (part === "*" ? ".*" : part === "?" ? "." : part.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("")}$`).test(arn);

/** What Lambda needs on the KMS key of an SQS on-failure destination encrypted with a customer managed key. */
export const ON_FAILURE_QUEUE_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"] as const;
/** The AWS managed key of SQS: its policy cannot be changed, and not every principal may use it. */
const AWS_MANAGED_SQS_KEY = /^(arn:[^:]+:kms:[^:]*:[^:]*:)?alias\/aws\/sqs$/;

/**
 * Whether a queue's policy denies sqs:SendMessage to every principal but `roleArn` (a Deny on `*` with
 * ArnNotEquals/ArnNotLike aws:PrincipalArn naming only that role), as onFailureQueuePolicy writes it.
 */
function onlyRoleSends(documents: ReturnType<typeof policyOf>[], roleArn: string): boolean {
  return documents.some((document) =>
    (document?.Statement ?? []).some((statement) => {
      if (statement.Effect !== "Deny" || !principalsOf(statement.Principal).includes("*")) return false;
      if (!actionsOf(statement).some((a) => actionCovers(a, "sqs:SendMessage"))) return false;
      const allowed = conditionValues(statement, ["ArnNotEquals", "ArnNotLike", "StringNotEquals"], "aws:PrincipalArn");
      return allowed.length > 0 && allowed.every((arn) => arn === roleArn);
    }),
  );
}

/**
 * The function's role may send to the on-failure destination: Lambda checks it when the mapping is created or updated.
 * An SQS destination of the same stack is the function's alone: encrypted with a customer managed key the role may use
 * for it, and only that role may send.
 */
export function streamMappingOnFailureGrant(source: StreamSource): GuardrailPolicy {
  return stackRule(
    {
      name: ruleName(source, "on-failure-grant"),
      description: `The execution role of a function with an event source mapping on ${source.label} may send to the mapping's on-failure destination (sqs:SendMessage, sns:Publish or s3:PutObject on exactly it, and nothing denies it): Lambda sends the record with that role and refuses a destination the role cannot write to, so the deployment fails, or, should the grant be removed later, failed batches are dropped unrecorded (AWS Lambda developer guide, execution role permissions for on-failure destinations). An SQS destination the stack creates is encrypted with a customer managed KMS key, on which the role holds kms:GenerateDataKey and kms:Decrypt (the same guide: an SQS destination encrypted with your own key needs both), and its queue policy denies sqs:SendMessage to every principal but that role, so nobody else can put a fake failure record there (Well-Architected Security pillar, least privilege).`,
      remediation: `Grant the function's role the send action on the destination's ARN, encrypt an SQS destination with the platform's events key and grant the role ${ON_FAILURE_QUEUE_KEY_ACTIONS.join(" and ")} on it, and give the queue a policy that denies sqs:SendMessage when aws:PrincipalArn is not the role (${source.component} does all of it: onFailureQueue and onFailureQueuePolicy in shared/infra/helpers/queues.ts).`,
    },
    (args) =>
      mappingsOn(source, args).flatMap((mapping): Finding[] => {
        const destination = str(mapping.props.destinationConfig?.onFailure?.destinationArn);
        const service = destination ? ON_FAILURE_DESTINATION.exec(destination)?.[1] : undefined;
        if (!destination || !service) return []; // the on-failure-destination rule's finding
        const action = ON_FAILURE_ACTION[service] as string;
        const fn = functionNamed(args, mapping.props.functionName);
        if (!fn) return [{ urn: mapping.urn, message: `mapping ${mapping.name} on ${source.label}: its function ${str(mapping.props.functionName) ?? "?"} is not in this stack, so its role's ${action} on ${destination} cannot be checked` }];
        const role = roleOf(args, fn.props.role);
        const statements = role ? roleStatements(args, role).map((s) => s.statement) : [];
        const matches = (statement: (typeof statements)[number]) =>
          actionsOf(statement).some((a) => actionCovers(a, action)) && resourcesOf(statement).some((r) => resourceCovers(r, destination));
        const allowed = statements.some((s) => s.Effect === "Allow" && matches(s));
        const denied = statements.some((s) => s.Effect === "Deny" && matches(s));
        const fnName = str(fn.props.name) ?? fn.name;
        if (!allowed || denied) {
          return [{ urn: mapping.urn, message: `mapping ${mapping.name} on ${source.label}: the role of function ${fnName} may not ${action} to ${destination}, so Lambda refuses the destination` }];
        }
        const queue = service === "sqs" ? ofType(args, T.queue).find((q) => q.props.arn === destination) : undefined;
        if (!queue) return []; // another destination kind, or a queue of another stack: nothing more to read here
        const problems: string[] = [];
        const key = str(queue.props.kmsMasterKeyId);
        if (!key || AWS_MANAGED_SQS_KEY.test(key)) {
          problems.push(`its queue ${queue.name} is encrypted with ${key ?? (bool(queue.props.sqsManagedSseEnabled) ? "SQS-managed keys (SSE-SQS)" : "nothing")}, not a customer managed key`);
        } else {
          const keyUse = (a: string) => (s: (typeof statements)[number]) => actionsOf(s).some((p) => actionCovers(p, a)) && resourcesOf(s).some((r) => resourceCovers(r, key));
          const missing = ON_FAILURE_QUEUE_KEY_ACTIONS.filter((a) => !statements.some((s) => s.Effect === "Allow" && keyUse(a)(s)) || statements.some((s) => s.Effect === "Deny" && keyUse(a)(s)));
          if (missing.length) problems.push(`the role may not ${missing.join(" or ")} on its queue's key ${key}, so Lambda cannot send to it`);
        }
        const url = str(queue.props.url);
        const documents = [
          policyOf(queue.props.policy),
          ...ofType(args, T.queuePolicy)
            .filter((p) => url !== undefined && p.props.queueUrl === url)
            .map((p) => policyOf(p.props.policy)),
        ];
        const roleArn = str(role?.props.arn) ?? str(fn.props.role) ?? "";
        if (!onlyRoleSends(documents, roleArn)) problems.push(`its queue ${queue.name}'s policy lets principals other than the role send (no Deny of sqs:SendMessage when aws:PrincipalArn is not ${roleArn})`);
        return problems.length ? [{ urn: mapping.urn, message: `mapping ${mapping.name} on ${source.label} (function ${fnName}): ${problems.join("; ")}` }] : [];
      }),
  );
}

/** Settings CreateEventSourceMapping accepts for this source: what would otherwise fail only at `pulumi up`. */
export function streamMappingSettingsAccepted(source: StreamSource): GuardrailPolicy {
  const L = STREAM_MAPPING_LIMITS;
  return resourceRule(
    {
      name: ruleName(source, "settings-accepted"),
      description: `An event source mapping on ${source.label} has settings Lambda accepts, so the deployment does not fail half-way: a starting position (${source.startingPositions.join(", ")}; AT_TIMESTAMP with its timestamp), batch size ${L.batchSize.min} to ${L.batchSize.max}, MaximumRetryAttempts ${L.maximumRetryAttempts.min} to ${L.maximumRetryAttempts.max}, MaximumRecordAgeInSeconds -1 or ${L.maximumRecordAgeInSeconds.min} to ${L.maximumRecordAgeInSeconds.max}, batching window ${L.maximumBatchingWindowInSeconds.min} to ${L.maximumBatchingWindowInSeconds.max} s, tumbling window ${L.tumblingWindowInSeconds.min} to ${L.tumblingWindowInSeconds.max} s (AWS Lambda developer guide, CreateEventSourceMapping and stream event sources).`,
      remediation: `Set startingPosition (TRIM_HORIZON reads what the stream still holds; ${source.component} sets it) and keep the numbers within Lambda's bounds.`,
    },
    (args) => {
      if (!onSource(source, args)) return [];
      const p = args.props;
      const problems: string[] = [];
      const position = str(p.startingPosition);
      if (!position) problems.push("sets no startingPosition (Lambda requires one for a stream)");
      else if (!source.startingPositions.includes(position)) problems.push(`startingPosition ${position} is not one of ${source.startingPositions.join(", ")}`);
      else if (position === "AT_TIMESTAMP" && !str(p.startingPositionTimestamp)) problems.push("startingPosition AT_TIMESTAMP without a startingPositionTimestamp");
      const range = (key: keyof typeof L, allowed: (n: number) => boolean, text: string) => {
        const value = p[key];
        if (value === undefined || value === null) return;
        const n = num(value);
        if (n === undefined || !Number.isInteger(n) || !allowed(n)) problems.push(`${key} ${String(value)} is outside ${text}`);
      };
      const within = (key: keyof typeof L) => (n: number) => n >= L[key].min && n <= L[key].max;
      range("batchSize", within("batchSize"), `${L.batchSize.min} to ${L.batchSize.max}`);
      range("maximumRetryAttempts", within("maximumRetryAttempts"), `${L.maximumRetryAttempts.min} to ${L.maximumRetryAttempts.max}`);
      range("maximumRecordAgeInSeconds", (n) => n === -1 || within("maximumRecordAgeInSeconds")(n), `-1 or ${L.maximumRecordAgeInSeconds.min} to ${L.maximumRecordAgeInSeconds.max}`);
      range("parallelizationFactor", within("parallelizationFactor"), `${L.parallelizationFactor.min} to ${L.parallelizationFactor.max}`);
      range("maximumBatchingWindowInSeconds", within("maximumBatchingWindowInSeconds"), `${L.maximumBatchingWindowInSeconds.min} to ${L.maximumBatchingWindowInSeconds.max}`);
      range("tumblingWindowInSeconds", within("tumblingWindowInSeconds"), `${L.tumblingWindowInSeconds.min} to ${L.tumblingWindowInSeconds.max}`);
      return problems.length ? [{ message: `mapping ${args.name} on ${source.label}: ${problems.join("; ")}` }] : [];
    },
  );
}

const { dynamodb, kinesis } = STREAM_SOURCES;

export const dynamodbStreamMappingBisect = streamMappingBisect(dynamodb);
export const dynamodbStreamMappingBoundedRetries = streamMappingBoundedRetries(dynamodb);
export const dynamodbStreamMappingOnFailure = streamMappingOnFailureDestination(dynamodb);
export const dynamodbStreamMappingIteratorAgeAlarm = streamMappingIteratorAgeAlarm(dynamodb);
export const dynamodbStreamMappingBoundedConcurrency = streamMappingBoundedConcurrency(dynamodb);
export const dynamodbStreamMappingSettingsAccepted = streamMappingSettingsAccepted(dynamodb);
export const dynamodbStreamMappingOnFailureGrant = streamMappingOnFailureGrant(dynamodb);

export const kinesisMappingBisect = streamMappingBisect(kinesis);
export const kinesisMappingBoundedRetries = streamMappingBoundedRetries(kinesis);
export const kinesisMappingOnFailureDestination = streamMappingOnFailureDestination(kinesis);
export const kinesisMappingIteratorAgeAlarm = streamMappingIteratorAgeAlarm(kinesis);
export const kinesisMappingBoundedConcurrency = streamMappingBoundedConcurrency(kinesis);
export const kinesisMappingSettingsAccepted = streamMappingSettingsAccepted(kinesis);
export const kinesisMappingOnFailureGrant = streamMappingOnFailureGrant(kinesis);
