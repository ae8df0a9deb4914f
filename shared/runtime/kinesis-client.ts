import { KinesisClient, PutRecordCommand, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

// The Kinesis client, apart from the others (aws-clients.ts): only functions that publish a stream event bundle it
// (see `streamsBundled` in streams.ts). The client's default request handler speaks HTTP/2 (for SubscribeToShard,
// which the runtime never calls); PutRecord and PutRecords work over HTTP/1.1, which every Kinesis endpoint
// speaks, the local stage's (kinesalite) included, which answers HTTP/2 with "Protocol error".
// The endpoint comes from the environment like the other clients' (AWS_ENDPOINT_URL_KINESIS locally).

const kinesisCommands = { KinesisClient, PutRecordCommand, PutRecordsCommand };

let kinesis: KinesisClient | undefined;

/** The Kinesis commands the runtime uses (only these are bundled). */
export function kinesisModule(): typeof kinesisCommands {
  return kinesisCommands;
}

/** The process's Kinesis client over HTTP/1.1 (created at init or on first use, then reused across invocations). */
export function kinesisClient(): KinesisClient {
  kinesis ??= new KinesisClient({ requestHandler: new NodeHttpHandler() });
  return kinesis;
}

/** Whether the client exists (for tests of what init prepares). */
export function kinesisClientCreated(): boolean {
  return kinesis !== undefined;
}

/** Forgets the client, so the next use builds a new one from the current environment. */
export function resetKinesisClient(): void {
  kinesis?.destroy();
  kinesis = undefined;
}
