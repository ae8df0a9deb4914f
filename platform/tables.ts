import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DATA_TABLE_LAYOUT, IDEMPOTENCY_TABLE_LAYOUT, type PlatformOutputs } from "../shared/contract";
import type { PlatformConfig } from "./config";

export interface Tables {
  dataTable: pulumi.Output<PlatformOutputs["dataTable"]>;
  idempotencyTable: pulumi.Output<PlatformOutputs["idempotencyTable"]>;
}

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
      serverSideEncryption: { enabled: true },
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
      serverSideEncryption: { enabled: true },
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
