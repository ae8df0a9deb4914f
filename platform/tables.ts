import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DATA_TABLE_LAYOUT, IDEMPOTENCY_TABLE_LAYOUT, type PlatformOutputs } from "../shared/contract";
import type { PlatformConfig } from "./config";

export interface Tables {
  dataTable: pulumi.Output<PlatformOutputs["dataTable"]>;
  idempotencyTable: pulumi.Output<PlatformOutputs["idempotencyTable"]>;
}

/**
 * The data and idempotency tables.
 *
 * Encryption at rest: DynamoDB always encrypts; the only choice is whose key. The platform uses the AWS owned key,
 * DynamoDB's default, by leaving `serverSideEncryption` out:
 * - it costs nothing; `serverSideEncryption: { enabled: true }` without a key ARN would switch to the AWS managed
 *   key `aws/dynamodb`, for which KMS charges apply, while adding nothing this platform uses;
 * - a customer managed key would add an audit trail of each key use and the power to revoke it, at the price of a
 *   key per stage, a key policy to keep right, and tables that become unreadable if the key is disabled. Who may
 *   read which items is already decided per service by IAM (`dynamodb:LeadingKeys`), which a key would not refine.
 * A team that must hold its own key sets `serverSideEncryption: { enabled: true, kmsKeyArn }` on purpose; the
 * guardrail `dynamodb-sse-no-managed-key` refuses `enabled: true` without `kmsKeyArn`.
 */
export function createTables(config: PlatformConfig): Tables {
  const { partitionKey, sortKey, ttlAttribute, indexes } = DATA_TABLE_LAYOUT;
  const keyAttributes = [partitionKey, sortKey, ...Object.values(indexes).flatMap((i) => [i.partitionKey, i.sortKey])];
  const data = new aws.dynamodb.Table(
    "data-table",
    {
      name: `${config.stage}-data`,
      billingMode: "PAY_PER_REQUEST",
      hashKey: partitionKey,
      rangeKey: sortKey,
      attributes: keyAttributes.map((name) => ({ name, type: "S" })),
      globalSecondaryIndexes: Object.values(indexes).map((index) => ({
        name: index.name,
        keySchemas: [
          { attributeName: index.partitionKey, keyType: "HASH" },
          { attributeName: index.sortKey, keyType: "RANGE" },
        ],
        projectionType: "ALL",
      })),
      ttl: { attributeName: ttlAttribute, enabled: true },
      pointInTimeRecovery: { enabled: true },
      // No serverSideEncryption block: the AWS owned key (see createTables).
      // The stream stays on, though nothing in this repository reads it since each service's outbox has a table of its
      // own (DynamoDB Streams throttles more than two readers per shard: a stream every service's relay read would
      // throttle them). Turning it off with that change would lose events: a platform deployed before its services
      // (the usual order) would end the stream while the services' old relays still read it and their functions still
      // write outbox items here. An unread stream costs nothing; who may read it is bounded by the guardrails
      // (dynamodb-stream-reader-own-table: no service stack maps another stack's table stream) and by the local
      // stage's two-reader check. Turning it off, and `dataTable.streamArn` out of the contract, belongs to a later
      // release, once every stage's services run with their own outbox tables.
      streamEnabled: true,
      streamViewType: "NEW_AND_OLD_IMAGES",
      deletionProtectionEnabled: config.deletionProtection,
    },
    { protect: config.deletionProtection },
  );

  const idempotency = new aws.dynamodb.Table(
    "idempotency-table",
    {
      name: `${config.stage}-idempotency`,
      billingMode: "PAY_PER_REQUEST",
      hashKey: IDEMPOTENCY_TABLE_LAYOUT.keyAttribute,
      attributes: [{ name: IDEMPOTENCY_TABLE_LAYOUT.keyAttribute, type: "S" }],
      ttl: { attributeName: IDEMPOTENCY_TABLE_LAYOUT.ttlAttribute, enabled: true },
      pointInTimeRecovery: { enabled: true },
      // No serverSideEncryption block: the AWS owned key (see createTables).
      deletionProtectionEnabled: config.deletionProtection,
    },
    { protect: config.deletionProtection },
  );

  return {
    dataTable: pulumi.output({
      name: data.name,
      arn: data.arn,
      streamArn: data.streamArn,
      partitionKey,
      sortKey,
      ttlAttribute,
      indexes,
    }),
    idempotencyTable: pulumi.output({
      name: idempotency.name,
      arn: idempotency.arn,
      ...IDEMPOTENCY_TABLE_LAYOUT,
    }),
  };
}
