import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { streamEventTypes, streamName, type StreamEventType, type StreamRef } from "../shared/contract";
import type { PlatformConfig } from "./config";

/**
 * One Kinesis data stream per stream event (`ordering: "stream"` in the catalog), and nothing for any other event:
 * a stream is billed while idle (a shard hour in PROVISIONED mode, a stream hour in ON_DEMAND mode), so only the
 * events that ask for one have one.
 *
 * Each stream is encrypted with the platform's events key (`encryptionType: KMS`). The key policy lets the account's
 * IAM policies decide who uses it, so nothing is added to it: a producer's role gets `kms:GenerateDataKey` and a
 * consumer's role (Lambda's event source mapping reads with the function's execution role) `kms:Decrypt`, each only
 * for that stream's encryption context (`kms:EncryptionContext:aws:kinesis:arn`), as the Kinesis developer guide
 * ("Permissions to use user-generated KMS keys") lists them. Capacity mode, shards and retention come from the stage.
 */
export function createStreams(config: PlatformConfig, key: aws.kms.Key): Record<StreamEventType, pulumi.Output<StreamRef>> {
  const streams: Record<string, pulumi.Output<StreamRef>> = {};
  const { streams: settings } = config;
  for (const type of streamEventTypes) {
    const stream = new aws.kinesis.Stream(
      `stream-${type}`,
      {
        name: streamName(config.stage, type),
        streamModeDetails: { streamMode: settings.capacityMode },
        shardCount: settings.capacityMode === "PROVISIONED" ? settings.shardCount : undefined,
        retentionPeriod: settings.retentionHours,
        encryptionType: "KMS",
        kmsKeyId: key.arn,
      },
      // The records are the events themselves while retention lasts: a protected stage keeps its streams.
      { protect: config.deletionProtection },
    );
    streams[type] = pulumi.output({ arn: stream.arn, name: stream.name });
  }
  return streams as Record<StreamEventType, pulumi.Output<StreamRef>>;
}
