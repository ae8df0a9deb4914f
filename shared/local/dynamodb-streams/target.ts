/**
 * How the write engine talks to the DynamoDB engine underneath (dynalite): one JSON 1.0 call in, its status and JSON
 * answer out. Either dynalite's request listener in this thread, or any DynamoDB endpoint over HTTP.
 */
import { EventEmitter } from "node:events";
import { request as httpRequest, type Agent, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";

/** A DynamoDB answer: HTTP status and JSON body (an error body has `__type` and `message`/`Message`). */
export interface DynamoAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Sends one DynamoDB operation (`PutItem`, ...) with its JSON request. */
export type DynamoTarget = (operation: string, request: unknown) => Promise<DynamoAnswer>;

/** The error type of an answer without its namespace (`ConditionalCheckFailedException`), `undefined` for a 200. */
export function errorType(answer: DynamoAnswer): string | undefined {
  if (answer.status === 200) return undefined;
  return String(answer.body.__type ?? "UnknownError").split("#").pop();
}

/** The error message of an answer (`message` or `Message`). */
export function errorMessage(answer: DynamoAnswer): string | undefined {
  const message = answer.body.message ?? answer.body.Message;
  return message === undefined ? undefined : String(message);
}

function headers(operation: string, payload: string): Record<string, string> {
  const date = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  return {
    host: "localhost",
    "content-type": "application/x-amz-json-1.0",
    "content-length": String(Buffer.byteLength(payload)),
    "x-amz-target": `DynamoDB_20120810.${operation}`,
    "x-amz-date": date,
    // dynalite checks the header's shape, not the signature.
    authorization: `AWS4-HMAC-SHA256 Credential=local-write-engine/${date.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0`,
  };
}

function parse(status: number, text: string): DynamoAnswer {
  try {
    return { status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch {
    return { status: 500, body: { __type: "com.amazon.coral.service#InternalFailure", message: `unreadable answer from the DynamoDB engine: ${text.slice(0, 200)}` } };
  }
}

/** A target that hands requests to a request listener in this thread (dynalite's server's). */
export function listenerTarget(listener: RequestListener): DynamoTarget {
  return (operation, request) =>
    new Promise<DynamoAnswer>((resolve, reject) => {
      const payload = JSON.stringify(request);
      const req = Object.assign(new EventEmitter(), { method: "POST", url: "/", headers: headers(operation, payload), socket: {} });
      let status = 200;
      let done = false;
      const res = {
        get statusCode() {
          return status;
        },
        set statusCode(value: number) {
          status = value;
        },
        headersSent: false,
        setHeader: () => res,
        getHeader: () => undefined,
        removeHeader: () => undefined,
        end(chunk?: string | Buffer) {
          if (done) return res;
          done = true;
          resolve(parse(status, chunk === undefined ? "" : chunk.toString()));
          return res;
        },
      };
      try {
        listener(req as unknown as IncomingMessage, res as unknown as ServerResponse);
        req.emit("data", Buffer.from(payload));
        req.emit("end");
      } catch (error) {
        if (!done) reject(error as Error);
      }
    });
}

/** A target that sends requests to a DynamoDB endpoint over HTTP (`http://127.0.0.1:<port>`). */
export function httpTarget(endpoint: string, agent?: Agent): DynamoTarget {
  const url = new URL(endpoint);
  return (operation, request) =>
    new Promise<DynamoAnswer>((resolve, reject) => {
      const payload = JSON.stringify(request);
      const req = httpRequest(
        { protocol: url.protocol, hostname: url.hostname, port: url.port, method: "POST", path: "/", headers: headers(operation, payload), ...(agent ? { agent } : {}) },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => chunks.push(chunk));
          answer.once("error", reject);
          answer.once("end", () => resolve(parse(answer.statusCode ?? 500, Buffer.concat(chunks).toString("utf8"))));
        },
      );
      req.once("error", reject);
      req.end(payload);
    });
}
