import { resourceRule } from "../rule";
import { str } from "../read";
import { T } from "../resource-types";
import { isDynamoDbStreamArn } from "./stream-mappings";

// The event source mappings on DynamoDB streams (the outbox relays of services): what makes a stream consumer safe
// to leave running. A stream, unlike a queue, blocks its shard while a batch fails: without bounds a poison record
// stops every record behind it for the stream's whole retention (24 hours), and then they are gone.

// Bisect, bounded retries, the on-failure destination, the IteratorAge alarm, the parallelization factor and the
// settings Lambda accepts are the stream-mapping family's (stream-mappings.ts), shared with Kinesis; the filter is
// DynamoDB's own: a table's stream carries every write to the table, a Kinesis stream only its event type.
export { isDynamoDbStreamArn };

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
