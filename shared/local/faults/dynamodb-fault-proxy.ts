/**
 * A DynamoDB fault proxy: an HTTP hop between the functions' SDK clients and the stage's IAM-enforcing DynamoDB
 * proxy that can, per call, hold the call up, answer a transient error as DynamoDB does (before forwarding the call,
 * or after it took effect: a lost answer), or crash the calling function's worker (before or after the call took
 * effect). Calls it is not asked to inspect stream through untouched.
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { crc32 } from "node:zlib";
import { sigV4Credential } from "../endpoints/sigv4";
import type { TransientError } from "./plan";

/** One DynamoDB call the proxy inspects. */
export interface DynamoDbCall {
  /** The API operation (`PutItem`, `DeleteItem`, ...). */
  operation: string;
  /** The caller's access key id (in the local stage, the function's name). */
  principal: string | undefined;
  /** The caller's `X-Amzn-Trace-Id` (inside a function: the invocation's trace header). */
  traceHeader: string | undefined;
  /** The parsed request body (`{}` when it is not JSON). */
  request: Record<string, unknown>;
}

/** What to do to a call besides forwarding it. */
export type DynamoDbFault =
  | { kind: "error"; error: TransientError; when: "before" | "after" }
  /** Calls `crash` (which kills the caller) and never answers: before forwarding the call, or after it took effect. */
  | { kind: "crash"; when: "before" | "after"; crash: () => Promise<unknown> };

/** The decision for one call: hold it up first, then at most one fault. */
export interface DynamoDbFaultDecision {
  delayMs?: number;
  fault?: DynamoDbFault;
}

export interface DynamoDbFaultProxyOptions {
  /** Where calls go: the stage's IAM proxy. May be set later with `setTarget` (the stage starts after the proxy). */
  target?: string;
  /** Whether a caller's calls are inspected (buffered, parsed, decided on); the others stream through. */
  inspect: (principal: string | undefined) => boolean;
  /** Decides on each inspected call. */
  decide: (call: DynamoDbCall) => DynamoDbFaultDecision | undefined;
  /** An inspected call reached the target and was answered with `status` (also when its answer is then replaced). */
  onForwarded?: (call: DynamoDbCall, status: number) => void;
}

export interface DynamoDbFaultProxy {
  /** `http://127.0.0.1:<port>`: give it to the functions as their DynamoDB endpoint. */
  readonly endpoint: string;
  setTarget(target: string): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

/** DynamoDB's answers for the transient errors: status and message. */
const ERRORS: Record<TransientError, { status: number; message: string }> = {
  ProvisionedThroughputExceededException: {
    status: 400,
    message:
      "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
  },
  InternalServerError: { status: 500, message: "Internal server error" },
};

/**
 * Starts the proxy on loopback.
 * @example
 * const proxy = await startDynamoDbFaultProxy({ inspect: (p) => p === "local-billing-on-order-placed", decide: () => undefined });
 * const stage = await startLocalStage({ port: 0, endpoints: { dynamodb: proxy.endpoint } });
 * proxy.setTarget(stage.endpoints.dynamodbProxy);
 */
export async function startDynamoDbFaultProxy(options: DynamoDbFaultProxyOptions): Promise<DynamoDbFaultProxy> {
  let target = options.target ? new URL(options.target) : undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => sendError(res, 500, "InternalFailure", `fault proxy: ${(error as Error).message}`));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!target) {
      sendError(res, 503, "ServiceUnavailable", "fault proxy: no target yet");
      return;
    }
    const principal = sigV4Credential(req.headers, req.url ?? "/")?.accessKeyId;
    if (req.method !== "POST" || !options.inspect(principal)) {
      stream(req, res, target);
      return;
    }
    const body = await readBody(req);
    let request: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(body.toString("utf8"));
      if (parsed && typeof parsed === "object") request = parsed as Record<string, unknown>;
    } catch {
      // forwarded as it is: the target answers it
    }
    const header = req.headers["x-amz-target"];
    const traceHeader = req.headers["x-amzn-trace-id"];
    const call: DynamoDbCall = {
      operation: typeof header === "string" ? (header.split(".").pop() ?? "") : "",
      principal,
      traceHeader: typeof traceHeader === "string" ? traceHeader : undefined,
      request,
    };
    const decision = options.decide(call);
    if (decision?.delayMs) await delay(decision.delayMs);
    const fault = decision?.fault;
    if (fault?.when === "before") {
      if (fault.kind === "error") sendDynamoDbError(res, fault.error);
      else await crashAndHangUp(res, fault.crash);
      return;
    }
    const answer = await forward(req, body, target);
    options.onForwarded?.(call, answer.status);
    if (fault?.kind === "error") sendDynamoDbError(res, fault.error);
    else if (fault?.kind === "crash") await crashAndHangUp(res, fault.crash);
    else {
      res.writeHead(answer.status, answer.statusMessage, answer.headers);
      res.end(answer.body);
    }
  }

  function stream(req: IncomingMessage, res: ServerResponse, to: URL): void {
    const upstream = httpRequest(
      { protocol: to.protocol, hostname: to.hostname, port: to.port, method: req.method, path: req.url, headers: endToEnd(req.headers), agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    upstream.once("error", (error) => sendError(res, 500, "InternalFailure", `fault proxy: the target failed: ${error.message}`));
    req.pipe(upstream);
  }

  function forward(
    req: IncomingMessage,
    body: Buffer,
    to: URL,
  ): Promise<{ status: number; statusMessage: string | undefined; headers: Record<string, string | string[]>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = endToEnd(req.headers);
      headers["content-length"] = String(body.length);
      const upstream = httpRequest(
        { protocol: to.protocol, hostname: to.hostname, port: to.port, method: req.method, path: req.url, headers, agent },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => chunks.push(chunk));
          answer.once("error", reject);
          answer.once("end", () => {
            const buffered = Buffer.concat(chunks);
            const out = endToEnd(answer.headers);
            out["content-length"] = String(buffered.length);
            resolve({ status: answer.statusCode ?? 502, statusMessage: answer.statusMessage, headers: out, body: buffered });
          });
        },
      );
      upstream.once("error", reject);
      upstream.end(body);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    setTarget(url) {
      target = new URL(url);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

/** The caller is killed mid-call: it never gets an answer. */
async function crashAndHangUp(res: ServerResponse, crash: () => Promise<unknown>): Promise<void> {
  try {
    await crash();
  } finally {
    res.destroy();
  }
}

function sendDynamoDbError(res: ServerResponse, error: TransientError): void {
  const { status, message } = ERRORS[error];
  sendError(res, status, error, message, "com.amazonaws.dynamodb.v20120810");
}

/** An error answer shaped like DynamoDB's: JSON with `__type`, `x-amzn-RequestId` and `x-amz-crc32`. */
function sendError(res: ServerResponse, status: number, code: string, message: string, namespace = "com.amazon.coral.service"): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ __type: `${namespace}#${code}`, message });
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.0",
    "content-length": String(Buffer.byteLength(body)),
    "x-amzn-requestid": randomBytes(39).toString("base64").toUpperCase().replace(/[+/=]/g, "0").slice(0, 52),
    "x-amz-crc32": String(crc32(body)),
  });
  res.end(body);
}

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
