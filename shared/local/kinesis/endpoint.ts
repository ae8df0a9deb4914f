/**
 * The Kinesis API on HTTP (AWS JSON 1.1, `X-Amz-Target: Kinesis_20131202.<Operation>`), as `@aws-sdk/client-kinesis`
 * speaks it, in front of the local engine (kinesalite): every call is authorized first with the caller's access key
 * id (the function's role policies, as for SNS, SQS and DynamoDB: `kinesis:PutRecord` on the stream's ARN, ...),
 * `StreamARN` is read as well as `StreamName` (kinesalite knows only names), successful puts are reported (the
 * trace's put span, the shard pollers' wake-up), and a fault hook can throttle puts (the fault run).
 */
import { createDecipheriv, randomUUID } from "node:crypto";
import { contextFromHeader, type RequestContext } from "../context";
import { allowAll, denialMessage, type Authorizer } from "../endpoints/authorization";
import type { EndpointRequest, EndpointResponse, ServiceEndpoint } from "../endpoints/server";
import type { KinesisEngine } from "./engine";

/** One record a put wrote. */
export interface PutRecordReport {
  partitionKey: string;
  data: Buffer;
  shardId: string;
  sequenceNumber: string;
}

/** A successful PutRecord or PutRecords (the records that were written). */
export interface KinesisPutReport {
  operation: "PutRecord" | "PutRecords";
  streamName: string;
  streamArn: string;
  records: PutRecordReport[];
  /** The call's own span (who put, under which parent). */
  context: RequestContext;
}

/** What a fault hook may do to a put: refuse it whole, or refuse some records of a PutRecords (by index). */
export type KinesisFault = { throttle: "all" } | { throttle: readonly number[] };

/** Options of {@link createKinesisEndpoint}. */
export interface KinesisEndpointOptions {
  engine: KinesisEngine;
  /** Called before every operation; a denial answers `AccessDeniedException`. @default allow everything */
  authorize?: Authorizer;
  /** Called after every successful put. */
  onPut?: (report: KinesisPutReport) => void;
  /** Decides faults for a put (PutRecord, PutRecords with its record count), before it reaches the engine. */
  faults?: (call: { operation: "PutRecord" | "PutRecords"; streamName: string; records: number; context: RequestContext }) => KinesisFault | undefined;
}

const TARGET_PREFIX = "Kinesis_20131202.";

/** Operations that act on no stream (IAM resource `*`). */
const WITHOUT_STREAM = new Set(["ListStreams"]);

const THROTTLED = { code: "ProvisionedThroughputExceededException", message: "Rate exceeded for shard in stream under account (local fault injection)." };

class KinesisError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** The stream name a kinesalite shard iterator was made for (GetRecords names no stream: IAM needs it). */
export function iteratorStreamName(iterator: string): string | undefined {
  try {
    const buffer = Buffer.from(iterator, "base64");
    // kinesalite's iterator: 8 bytes of version, then "<time>/<stream>/<shard>/<sequence>/<random>" in AES-256-CBC
    // under its published key (kinesalite/db).
    const db = require("kinesalite/db") as { ITERATOR_PWD_KEY: Buffer; ITERATOR_PWD_IV: Buffer };
    const decipher = createDecipheriv("aes-256-cbc", db.ITERATOR_PWD_KEY, db.ITERATOR_PWD_IV);
    const text = Buffer.concat([decipher.update(buffer.subarray(8)), decipher.final()]).toString("utf8");
    return text.split("/")[1] || undefined;
  } catch {
    return undefined;
  }
}

function streamNameOf(input: Record<string, unknown>): string | undefined {
  if (typeof input.StreamName === "string" && input.StreamName) return input.StreamName;
  if (typeof input.StreamARN === "string") return input.StreamARN.split(":stream/")[1] || undefined;
  return undefined;
}

/**
 * The Kinesis endpoint the functions' unmodified SDK clients use (`AWS_ENDPOINT_URL_KINESIS`).
 * @example
 * const kinesis = createKinesisEndpoint({ engine, authorize: authorizer.authorize });
 * const server = await startEndpointServer({ services: [kinesis] });
 */
export function createKinesisEndpoint(options: KinesisEndpointOptions): ServiceEndpoint {
  const { engine } = options;
  const authorize = options.authorize ?? allowAll;
  const { accountId, region } = engine.options;

  async function handle(request: EndpointRequest): Promise<EndpointResponse> {
    const requestId = randomUUID();
    try {
      const target = String(request.headers["x-amz-target"] ?? "");
      if (!target.startsWith(TARGET_PREFIX)) throw new KinesisError("UnknownOperationException", "the local Kinesis endpoint speaks AWS JSON 1.1 (X-Amz-Target: Kinesis_20131202.<Operation>)");
      const operation = target.slice(TARGET_PREFIX.length);
      if (!request.credential) throw new KinesisError("MissingAuthenticationTokenException", "Missing Authentication Token");
      let input: Record<string, unknown>;
      try {
        const parsed: unknown = request.body.length ? JSON.parse(request.body.toString("utf8")) : {};
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
        input = parsed as Record<string, unknown>;
      } catch {
        throw new KinesisError("SerializationException", "The request body is not a JSON object.");
      }
      const trace = request.headers["x-amzn-trace-id"];
      const context = contextFromHeader(typeof trace === "string" ? trace : undefined, request.credential.accessKeyId);
      let streamName = streamNameOf(input);
      if (!streamName && operation === "GetRecords" && typeof input.ShardIterator === "string") streamName = iteratorStreamName(input.ShardIterator);
      const resource = WITHOUT_STREAM.has(operation) ? "*" : streamName ? engine.streamArn(streamName) : "*";
      const denied = await denialMessage(
        authorize,
        {
          principal: context.principal,
          action: `kinesis:${operation}`,
          resource,
          context: {
            operation,
            service: "kinesis",
            region,
            requestId,
            requestContext: context,
            conditionKeys: { "aws:RequestedRegion": region, "aws:SourceIp": request.remoteAddress, "aws:CurrentTime": new Date().toISOString() },
          },
        },
        accountId,
      );
      if (denied) throw new KinesisError("AccessDeniedException", denied);
      // kinesalite knows streams by name only.
      if (streamName && typeof input.StreamARN === "string") {
        delete input.StreamARN;
        input.StreamName = streamName;
      }
      if ((operation === "PutRecord" || operation === "PutRecords") && streamName) {
        return json(200, await put(operation, streamName, input, context), requestId);
      }
      const answer = await engine.call(operation, input);
      return { status: answer.status, headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": requestId }, body: JSON.stringify(answer.body) };
    } catch (error) {
      if (error instanceof KinesisError) return json(error.status, { __type: error.code, message: error.message }, requestId);
      return json(500, { __type: "InternalFailure", message: `The local Kinesis endpoint failed: ${(error as Error).message}` }, requestId);
    }
  }

  async function put(operation: "PutRecord" | "PutRecords", streamName: string, input: Record<string, unknown>, context: RequestContext): Promise<unknown> {
    const entries = operation === "PutRecord" ? [input] : Array.isArray(input.Records) ? (input.Records as Record<string, unknown>[]) : [];
    const fault = options.faults?.({ operation, streamName, records: entries.length, context });
    const throttled = fault?.throttle;
    if (throttled === "all" || (operation === "PutRecord" && throttled && throttled.length > 0)) throw new KinesisError(THROTTLED.code, THROTTLED.message);
    const refused = new Set(throttled ?? []);
    const forwarded = entries.filter((_, i) => !refused.has(i));
    let results: Record<string, unknown>[];
    if (operation === "PutRecord") {
      const answer = await engine.call("PutRecord", input);
      if (answer.status !== 200) throw new KinesisError(String(answer.body.__type ?? "InternalFailure"), String(answer.body.message ?? answer.body.Message ?? ""), answer.status);
      results = [answer.body];
    } else if (forwarded.length === 0) {
      results = [];
    } else {
      const answer = await engine.call("PutRecords", { ...input, Records: forwarded });
      if (answer.status !== 200) throw new KinesisError(String(answer.body.__type ?? "InternalFailure"), String(answer.body.message ?? answer.body.Message ?? ""), answer.status);
      results = (answer.body.Records ?? []) as Record<string, unknown>[];
    }
    const written: PutRecordReport[] = [];
    let next = 0;
    const all = entries.map((entry, i) => {
      if (refused.has(i)) return { ErrorCode: THROTTLED.code, ErrorMessage: THROTTLED.message };
      const result = results[next++] ?? {};
      if (typeof result.SequenceNumber === "string") {
        written.push({
          partitionKey: String(entry.PartitionKey),
          data: Buffer.from(String(entry.Data ?? ""), "base64"),
          shardId: String(result.ShardId),
          sequenceNumber: result.SequenceNumber,
        });
      }
      return result;
    });
    if (written.length) options.onPut?.({ operation, streamName, streamArn: engine.streamArn(streamName), records: written, context });
    if (operation === "PutRecord") return all[0];
    return { FailedRecordCount: all.filter((r) => r.ErrorCode).length, Records: all };
  }

  return {
    service: "kinesis",
    matches: (request) => String(request.headers["x-amz-target"] ?? "").startsWith(TARGET_PREFIX),
    handle,
  };
}

function json(status: number, body: unknown, requestId: string): EndpointResponse {
  return { status, headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": requestId }, body: JSON.stringify(body) };
}
