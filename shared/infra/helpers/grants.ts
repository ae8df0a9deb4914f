import * as pulumi from "@pulumi/pulumi";
import { isStreamEvent, type EventType, type PlatformOutputs, type TracingMode } from "../../contract";
import type { PlatformNetwork, PlatformReference } from "../platform-reference";
import type { PolicyDocument, PolicyStatement } from "./policy-document";

/** How a function may use the shared data table: its own ElectroDB items only, whatever the level. */
export type DataAccess = "read-write" | "read" | "none";

/** What one function needs, in the domain's words; `functionGrants` turns it into IAM statements. */
export interface FunctionAccess {
  /** The service the function belongs to: its ElectroDB key prefix and its idempotency key prefix. */
  service: string;
  /** Event types the function publishes (the service must own them; checked by `defineService`). */
  publishes: readonly EventType[];
  /** Publishes failure events (consumers do: errors a retry cannot fix become events). */
  failures: boolean;
  /** Reads (and writes) its service's items in the shared data table. */
  data: DataAccess;
  /** Takes idempotency records in the platform's idempotency table. */
  idempotency: boolean;
  /** Runs in the platform's private network (Lambda manages its network interfaces with the function's role). */
  network?: boolean;
}

/** The stream a consumer of a stream event reads, resolved: Lambda's event source mapping uses the function's role. */
export interface StreamConsumption {
  streamArn: string;
  /** The enhanced fan-out consumer the mapping reads through, when the consumer asks for one. */
  streamConsumerArn?: string;
  /** The consumer's on-failure queue: Lambda sends the record of a discarded batch there with the function's role. */
  onFailureQueueArn: string;
}

/** Every ARN a grant names, resolved. */
export interface GrantTargets {
  logGroupArn: string;
  tracing: TracingMode;
  eventsKeyArn: string;
  topicArns: Partial<Record<EventType, string>>;
  /** The Kinesis streams of stream events (only needed when the function publishes one). */
  streamArns?: Partial<Record<EventType, string>>;
  /** The stream the function consumes, when it consumes a stream event. */
  stream?: StreamConsumption;
  failureTopicArn: string;
  dataTableArn: string;
  dataIndexNames: readonly string[];
  idempotencyTableArn: string;
  /** The function's own queue, when it consumes one. */
  queueArn?: string;
  /** The platform network, when the function runs in it. */
  network?: PlatformNetwork;
  /** Its service's outbox table, when the function records events. */
  outboxTableArn?: string;
}

export const DATA_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"] as const;
export const DATA_WRITE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:ConditionCheckItem",
] as const;
export const IDEMPOTENCY_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
] as const;
/** What Lambda's SQS poller does with the function's role. */
export const QUEUE_CONSUMER_ACTIONS = [
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:GetQueueAttributes",
  "sqs:ChangeMessageVisibility",
] as const;
export const LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"] as const;
/** X-Ray's write actions: the service has no resource-level permissions, so they take Resource "*". */
export const XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"] as const;
/**
 * What Lambda does with the role of a function in a VPC besides creating its interfaces: deleting them and moving
 * their private addresses. Lambda's developer guide asks for these on every network interface of the account and
 * region (`arn:<partition>:ec2:<region>:<account>:*\/*`): CreateFunction checks them, and fails, otherwise.
 */
export const NETWORK_INTERFACE_ACTIONS = ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"] as const;
/** EC2's Describe actions support no resource-level permissions, so they take Resource "*". */
export const NETWORK_DESCRIBE_ACTIONS = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"] as const;
/** Publishing to a KMS-encrypted topic needs a data key from the topic's key. */
export const TOPIC_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"] as const;
/** What a producer of a stream event calls (the Kinesis developer guide's producer example). */
export const STREAM_PUBLISH_ACTIONS = ["kinesis:PutRecord", "kinesis:PutRecords"] as const;
/**
 * What Lambda's event source mapping calls on a Kinesis stream with the function's role: the Lambda developer guide
 * ("Process Amazon Kinesis Data Streams records with Lambda") lists these, and AWS's managed policy
 * AWSLambdaKinesisExecutionRole grants them, on "*". Here they name the one stream. The managed policy's
 * `kinesis:ListStreams` is left out: it takes no resource (only "*" would do) and Lambda's guide does not ask for it.
 * `kinesis:SubscribeToShard` (also in both) acts on a stream consumer, not a stream: it is granted on the consumer's
 * ARN, only when the mapping reads through enhanced fan-out (STREAM_FAN_OUT_ACTIONS).
 */
export const STREAM_READ_ACTIONS = [
  "kinesis:DescribeStream",
  "kinesis:DescribeStreamSummary",
  "kinesis:GetRecords",
  "kinesis:GetShardIterator",
  "kinesis:ListShards",
] as const;
export const STREAM_FAN_OUT_ACTIONS = ["kinesis:SubscribeToShard"] as const;
/** Kinesis passes the stream's ARN as the encryption context of every KMS call it makes for a stream. */
export const KINESIS_ENCRYPTION_CONTEXT = "kms:EncryptionContext:aws:kinesis:arn";
/** SQS passes the queue's ARN as the encryption context of every KMS call it makes for a queue. */
export const SQS_ENCRYPTION_CONTEXT = "kms:EncryptionContext:aws:sqs:arn";

/** `arn:<partition>:ec2:<region>:<account>:*\/*`: every EC2 resource id of one account and region, as Lambda's guide names them. */
export function networkInterfacesOfAccount(partition: string, region: string, account: string): string {
  return `arn:${partition}:ec2:${region}:${account}:*/*`;
}

/** ElectroDB partition keys of a service start with `$<service>#`. */
export function dataKeyPrefix(service: string): string {
  return `$${service}#`;
}
/** Idempotency records of a service are keyed `<service>#<function>#<event id>` by the runtime. */
export function idempotencyKeyPrefix(service: string): string {
  return `${service}#`;
}

/**
 * Every partition key the request touches starts with `prefix`, and the request names at least one:
 * `ForAllValues` alone is true for a request without leading keys (a Scan), so `Null: false` must come with it
 * (Amazon DynamoDB developer guide, fine-grained access control; IAM user guide, condition set operators).
 * LeadingKeys constrains only the base table's partition key, never an index's: the runtime's entity layer filters
 * index reads on the base key prefix (shared/runtime/data-table.ts).
 */
export function leadingKeys(prefix: string): NonNullable<PolicyStatement["Condition"]> {
  return {
    "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${prefix}*`] },
    Null: { "dynamodb:LeadingKeys": "false" },
  };
}

/**
 * The statements of one function's role: exact actions on exact ARNs, derived from what the function does.
 * Pure: the same access and targets always give the same statements (tests compare them whole).
 */
export function grantStatements(access: FunctionAccess, targets: GrantTargets): PolicyStatement[] {
  const statements: PolicyStatement[] = [
    {
      Sid: "WriteOwnLogs",
      Effect: "Allow",
      Action: [...LOG_ACTIONS],
      // The log group and its streams: Lambda names each stream at run time, so the stream part cannot be exact.
      Resource: `${targets.logGroupArn}:*`,
    },
  ];
  if (targets.tracing === "Active") {
    statements.push({
      Sid: "SendTraces",
      Effect: "Allow",
      Action: [...XRAY_ACTIONS],
      // X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions: "*" is the only form.
      Resource: "*",
    });
  }
  if (targets.queueArn) {
    statements.push({ Sid: "ConsumeOwnQueue", Effect: "Allow", Action: [...QUEUE_CONSUMER_ACTIONS], Resource: targets.queueArn });
  }
  const topics = access.publishes.filter((type) => !isStreamEvent(type)).map((type) => {
    const arn = targets.topicArns[type];
    if (!arn) throw new Error(`the platform has no topic for ${type}: deploy the platform with the current catalog`);
    return arn;
  });
  if (topics.length) {
    statements.push({ Sid: "PublishOwnedEvents", Effect: "Allow", Action: "sns:Publish", Resource: topics.length === 1 ? topics[0] : topics });
  }
  if (access.failures) {
    statements.push({ Sid: "PublishFailureEvents", Effect: "Allow", Action: "sns:Publish", Resource: targets.failureTopicArn });
  }
  if (topics.length || access.failures) {
    statements.push({ Sid: "EncryptForEventTopics", Effect: "Allow", Action: [...TOPIC_KEY_ACTIONS], Resource: targets.eventsKeyArn });
  }
  const streams = access.publishes.filter(isStreamEvent).map((type) => {
    const arn = targets.streamArns?.[type];
    if (!arn) throw new Error(`the platform has no stream for ${type}: deploy the platform with the current catalog`);
    return arn;
  });
  if (streams.length) {
    const one = <T>(list: T[]) => (list.length === 1 ? list[0]! : list);
    statements.push({ Sid: "PutOwnStreamEvents", Effect: "Allow", Action: [...STREAM_PUBLISH_ACTIONS], Resource: one(streams) });
    // Producers of an encrypted stream need a data key (Kinesis developer guide, "Permissions to use user-generated
    // KMS keys"), only for these streams' encryption context.
    statements.push({
      Sid: "EncryptForOwnStreams",
      Effect: "Allow",
      Action: "kms:GenerateDataKey",
      Resource: targets.eventsKeyArn,
      Condition: { StringEquals: { [KINESIS_ENCRYPTION_CONTEXT]: one(streams) } },
    });
  }
  if (targets.stream) {
    const { streamArn, streamConsumerArn, onFailureQueueArn } = targets.stream;
    statements.push({ Sid: "ReadOwnStream", Effect: "Allow", Action: [...STREAM_READ_ACTIONS], Resource: streamArn });
    if (streamConsumerArn) {
      statements.push({ Sid: "ReadOwnStreamConsumer", Effect: "Allow", Action: [...STREAM_FAN_OUT_ACTIONS], Resource: streamConsumerArn });
    }
    // Consumers of an encrypted stream decrypt its records (same guide), only this stream's.
    statements.push({
      Sid: "DecryptOwnStream",
      Effect: "Allow",
      Action: "kms:Decrypt",
      Resource: targets.eventsKeyArn,
      Condition: { StringEquals: { [KINESIS_ENCRYPTION_CONTEXT]: streamArn } },
    });
    // Lambda sends the on-failure record of a discarded batch with the function's role, to a KMS-encrypted queue.
    statements.push({ Sid: "SendStreamFailureRecords", Effect: "Allow", Action: "sqs:SendMessage", Resource: onFailureQueueArn });
    statements.push({
      Sid: "EncryptStreamFailureRecords",
      Effect: "Allow",
      Action: [...TOPIC_KEY_ACTIONS],
      Resource: targets.eventsKeyArn,
      Condition: { StringEquals: { [SQS_ENCRYPTION_CONTEXT]: onFailureQueueArn } },
    });
  }
  if (access.data !== "none") {
    const actions = access.data === "read" ? [...DATA_READ_ACTIONS] : [...DATA_READ_ACTIONS, ...DATA_WRITE_ACTIONS];
    statements.push({
      Sid: "OwnItems",
      Effect: "Allow",
      Action: actions,
      Resource: targets.dataTableArn,
      Condition: leadingKeys(dataKeyPrefix(access.service)),
    });
    statements.push({
      Sid: "QueryOwnIndexes",
      Effect: "Allow",
      Action: "dynamodb:Query",
      Resource: targets.dataIndexNames.map((index) => `${targets.dataTableArn}/index/${index}`),
      Condition: leadingKeys(dataKeyPrefix(access.service)),
    });
  }
  if (targets.outboxTableArn) {
    // The outbox item of the record's TransactWriteItems: DynamoDB authorizes each item of a transaction with its
    // own action (a Put needs dynamodb:PutItem; TransactWriteItems has no action of its own). The table is the
    // service's own, only its functions write it: no LeadingKeys condition to add.
    statements.push({ Sid: "RecordOwnEvents", Effect: "Allow", Action: "dynamodb:PutItem", Resource: targets.outboxTableArn });
  }
  if (access.network) {
    const network = targets.network;
    if (!network) throw new Error("the function runs in the platform's network, but the platform has none");
    // Partition, region and account of the stage, as the data table's ARN names them.
    const [, partition, , region, account] = targets.dataTableArn.split(":");
    const ec2 = (type: string, id: string) => `arn:${partition}:ec2:${region}:${account}:${type}/${id}`;
    // Interface ids are assigned when Lambda creates them: the `*` is the only way to name them in advance.
    const interfaces = ec2("network-interface", "*");
    statements.push({
      Sid: "CreateNetworkInterfaces",
      Effect: "Allow",
      Action: "ec2:CreateNetworkInterface",
      Resource: [interfaces, ...network.privateSubnetIds.map((id) => ec2("subnet", id)), ec2("security-group", network.securityGroupId)],
    });
    // Lambda's developer guide: these three on all resource ids of the account and region (`*/*`), unconditioned;
    // narrower (network-interface/* or an ec2:Vpc condition) and Lambda's CreateFunction check fails.
    statements.push({
      Sid: "ManageNetworkInterfaces",
      Effect: "Allow",
      Action: [...NETWORK_INTERFACE_ACTIONS],
      Resource: networkInterfacesOfAccount(partition!, region!, account!),
    });
    statements.push({ Sid: "DescribeNetwork", Effect: "Allow", Action: [...NETWORK_DESCRIBE_ACTIONS], Resource: "*" });
  }
  if (access.idempotency) {
    statements.push({
      Sid: "OwnIdempotencyRecords",
      Effect: "Allow",
      Action: [...IDEMPOTENCY_ACTIONS],
      Resource: targets.idempotencyTableArn,
      Condition: leadingKeys(idempotencyKeyPrefix(access.service)),
    });
  }
  return statements;
}

/** The grant targets a function's role may name, read from the platform contract. */
export function grantTargetsFrom(
  platform: Pick<PlatformOutputs, "eventTopics" | "eventsKeyArn" | "failureTopic" | "dataTable" | "idempotencyTable" | "tracing"> &
    Partial<Pick<PlatformOutputs, "eventStreams">>,
  own: { logGroupArn: string; queueArn?: string; network?: PlatformNetwork; stream?: StreamConsumption; outboxTableArn?: string },
): GrantTargets {
  return {
    logGroupArn: own.logGroupArn,
    ...(own.outboxTableArn ? { outboxTableArn: own.outboxTableArn } : {}),
    queueArn: own.queueArn,
    ...(own.stream ? { stream: own.stream } : {}),
    ...(platform.eventStreams
      ? { streamArns: Object.fromEntries(Object.entries(platform.eventStreams).map(([type, ref]) => [type, (ref as { arn: string }).arn])) }
      : {}),
    ...(own.network ? { network: own.network } : {}),
    tracing: platform.tracing.mode,
    eventsKeyArn: platform.eventsKeyArn,
    topicArns: Object.fromEntries(Object.entries(platform.eventTopics).map(([type, topic]) => [type, topic.arn])),
    failureTopicArn: platform.failureTopic.arn,
    dataTableArn: platform.dataTable.arn,
    dataIndexNames: Object.values(platform.dataTable.indexes).map((index) => index.name),
    idempotencyTableArn: platform.idempotencyTable.arn,
  };
}

/**
 * The least-privilege policy document of one function, as an Output: the platform's ARNs come from the typed
 * stack reference, the function's own ARNs (log group, queue) from its resources.
 *
 * @example
 * const policy = functionGrants(platform, { service: "billing", publishes: ["billing.invoice-issued"],
 *   failures: true, data: "read-write", idempotency: true }, { logGroupArn: logGroup.arn, queueArn: queue.arn });
 */
export function functionGrants(
  platform: PlatformReference,
  access: FunctionAccess,
  own: {
    logGroupArn: pulumi.Input<string>;
    queueArn?: pulumi.Input<string>;
    network?: pulumi.Input<PlatformNetwork>;
    stream?: pulumi.Input<StreamConsumption>;
    outboxTableArn?: pulumi.Input<string>;
  },
): pulumi.Output<PolicyDocument> {
  if (access.network && own.network === undefined) throw new Error("a function in the platform network needs the network (own.network)");
  const network = pulumi.output(access.network ? own.network : undefined);
  // Read only by a function that publishes a stream event: a platform deployed before streams existed still serves
  // every other function.
  const eventStreams: pulumi.Output<PlatformOutputs["eventStreams"] | undefined> = access.publishes.some(isStreamEvent)
    ? platform.get("eventStreams")
    : pulumi.output(undefined);
  const stream = pulumi.output(own.stream) as pulumi.Output<StreamConsumption | undefined>;
  const outboxTableArn = pulumi.output(own.outboxTableArn) as pulumi.Output<string | undefined>;
  const resolved = pulumi.all([
    platform.get("eventTopics"),
    platform.eventsKeyArn,
    platform.failureTopic,
    platform.dataTable,
    platform.idempotencyTable,
    platform.tracing,
    own.logGroupArn,
    own.queueArn,
  ]);
  return pulumi
    .all([resolved, network, eventStreams, stream, outboxTableArn])
    .apply(([[eventTopics, eventsKeyArn, failureTopic, dataTable, idempotencyTable, tracing, logGroupArn, queueArn], net, streams, consumed, outbox]) => ({
      Version: "2012-10-17" as const,
      Statement: grantStatements(
        access,
        grantTargetsFrom(
          { eventTopics, eventsKeyArn, failureTopic, dataTable, idempotencyTable, tracing, ...(streams ? { eventStreams: streams } : {}) },
          {
            logGroupArn,
            queueArn: queueArn ?? undefined,
            ...(net ? { network: net } : {}),
            ...(consumed ? { stream: consumed as StreamConsumption } : {}),
            ...(outbox ? { outboxTableArn: outbox } : {}),
          },
        ),
      ),
    }));
}
