import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { startEndpointServer } from "../../../local/endpoints";
import { createKinesisEndpoint, KinesisEngine, lambdaKinesisRecord, type KinesisFault, type KinesisStoredRecord } from "../../../local/kinesis";
import { ACCOUNT } from "./aws-environment";

/** The catalog's stream event the runtime's tests use: ledger's, partition key `customerId`. */
export const STREAM_EVENT = "ledger.entry-posted";

export interface LocalKinesis {
  readonly endpoint: string;
  readonly engine: KinesisEngine;
  /** Faults for the next puts: return one to throttle. */
  faults: ((call: { operation: string; records: number }) => KinesisFault | undefined) | undefined;
  /** Every record of a stream, shard by shard in sequence order. */
  records(stream: string): Promise<KinesisStoredRecord[]>;
  /** A stream's records as Lambda delivers them. */
  lambdaEvent(stream: string, records: KinesisStoredRecord[]): KinesisStreamEvent;
  stop(): Promise<void>;
}

/** The local stage's Kinesis engine and endpoint, with the given streams; AWS_ENDPOINT_URL_KINESIS points at it. */
export async function startLocalKinesis(streams: { name: string; shards: number }[]): Promise<LocalKinesis> {
  const engine = new KinesisEngine({ region: "eu-west-1", accountId: ACCOUNT });
  for (const s of streams) await engine.ensureStream({ name: s.name, shardCount: s.shards });
  const local: LocalKinesis = {
    endpoint: "",
    engine,
    faults: undefined,
    async records(stream) {
      const out: KinesisStoredRecord[] = [];
      for (const shard of await engine.shards(stream)) out.push(...(await engine.readRange(stream, shard.ShardId)));
      return out;
    },
    lambdaEvent(stream, records): KinesisStreamEvent {
      const arn = engine.streamArn(stream);
      return { Records: records.map((r): KinesisStreamRecord => lambdaKinesisRecord(r, { arn, region: "eu-west-1" }, `arn:aws:iam::${ACCOUNT}:role/test`)) };
    },
    async stop() {
      await server.close();
      await engine.close();
    },
  };
  const server = await startEndpointServer({ services: [createKinesisEndpoint({ engine, faults: (call) => local.faults?.(call) })] });
  (local as { endpoint: string }).endpoint = server.url;
  process.env.AWS_ENDPOINT_URL_KINESIS = server.url;
  return local;
}
