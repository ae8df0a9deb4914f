import type { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { ofType, stackRule, type Finding } from "../rule";
import { bool, str } from "../read";
import { T } from "../resource-types";
import { isDynamoDbStreamArn } from "./stream-mappings";

// Who reads a DynamoDB table's stream. DynamoDB Streams serves at most two processes reading one shard at a time;
// more are throttled (the DynamoDB Streams API's LimitExceededException: "More than 2 processes are reading from the
// same streams shard at the same time"), and Lambda's event source mapping is one such reader per mapping. A stream
// shared across stacks collects one reader per stack that maps it, which no single stack can see: so a stack reads
// only the streams of the tables it creates (a service's outbox relay reads its own outbox table), and no stack puts
// more than two mappings on one stream. The local stage (shared/local/stage/wiring.ts) checks the whole system the
// same way.

/** AWS's limit on the processes reading one DynamoDB stream shard at a time (more are throttled). */
export const DYNAMODB_STREAM_MAX_READERS = 2;

/** `table/<name>/stream/<label>` -> `<name>`. */
export function tableOfStreamArn(arn: string): string | undefined {
  return /:table\/([^/]+)\/stream\//.exec(arn)?.[1];
}

/** The enabled event source mappings of a stack on DynamoDB streams (a disabled mapping reads nothing). */
function streamReaders(args: StackValidationArgs): PolicyResource[] {
  return ofType(args, T.eventSourceMapping).filter((m) => isDynamoDbStreamArn(m.props.eventSourceArn) && bool(m.props.enabled) !== false);
}

export const dynamodbStreamReaderOwnTable = stackRule(
  {
    name: "dynamodb-stream-reader-own-table",
    description:
      "An event source mapping reads only the DynamoDB stream of a table its own stack creates: DynamoDB Streams serves at most two readers per shard at a time and throttles more (Amazon DynamoDB developer guide, DynamoDB Streams, and its Streams API LimitExceededException; AWS Lambda developer guide, DynamoDB streams), and readers of a table another stack shares add up across stacks, out of any one stack's sight. A service that needs a stream declares a table of its own (as each service's outbox table).",
    remediation:
      "Give the reader its own table (the Service component creates each service's outbox table for its relay), or publish what readers need as events instead of sharing a table's stream.",
  },
  (args): Finding[] => {
    const tables = ofType(args, T.table);
    const streams = new Set(tables.map((t) => str(t.props.streamArn)).filter((a): a is string => a !== undefined));
    const names = new Set(tables.map((t) => str(t.props.name)).filter((n): n is string => n !== undefined));
    const findings: Finding[] = [];
    for (const mapping of streamReaders(args)) {
      const arn = str(mapping.props.eventSourceArn)!;
      const table = tableOfStreamArn(arn);
      if (streams.has(arn) || (table !== undefined && names.has(table))) continue;
      findings.push({
        urn: mapping.urn,
        message: `mapping ${mapping.name} reads the stream of table ${table ?? arn}, which this stack does not create: every stack reading a shared table's stream adds a reader to each of its shards, and DynamoDB Streams throttles more than ${DYNAMODB_STREAM_MAX_READERS}`,
      });
    }
    return findings;
  },
);

export const dynamodbStreamAtMostTwoReaders = stackRule(
  {
    name: "dynamodb-stream-at-most-two-readers",
    description: `No more than ${DYNAMODB_STREAM_MAX_READERS} event source mappings read one DynamoDB stream: each is a process reading every shard, and DynamoDB Streams throttles more than ${DYNAMODB_STREAM_MAX_READERS} readers of a shard at a time (Amazon DynamoDB developer guide, DynamoDB Streams; AWS Lambda developer guide, DynamoDB streams).`,
    remediation: "Read the stream with one mapping whose function does both jobs, or give each reader a table of its own.",
  },
  (args): Finding[] => {
    const byStream = new Map<string, PolicyResource[]>();
    for (const mapping of streamReaders(args)) {
      const arn = str(mapping.props.eventSourceArn)!;
      byStream.set(arn, [...(byStream.get(arn) ?? []), mapping]);
    }
    const findings: Finding[] = [];
    for (const [arn, mappings] of byStream) {
      if (mappings.length <= DYNAMODB_STREAM_MAX_READERS) continue;
      findings.push({
        urn: mappings[DYNAMODB_STREAM_MAX_READERS]!.urn,
        message: `${mappings.length} mappings read the stream of table ${tableOfStreamArn(arn) ?? arn} (${mappings.map((m) => m.name).join(", ")}): DynamoDB Streams throttles more than ${DYNAMODB_STREAM_MAX_READERS} readers of a shard`,
      });
    }
    return findings;
  },
);
