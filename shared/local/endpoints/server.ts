import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sigV4Credential, type SigV4Credential } from "./sigv4";

/** One HTTP request, read whole, as a service endpoint sees it. */
export interface EndpointRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The SigV4 credential the request was signed with; `undefined` for an unsigned request. */
  credential: SigV4Credential | undefined;
  /** The client's address. */
  remoteAddress: string;
  /** Aborted when the client goes away or the server closes: long polls end early on it. */
  signal: AbortSignal;
}

/** The answer a service endpoint gives. */
export interface EndpointResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** One AWS service spoken over HTTP (SNS, SQS, or anything else the local stage mounts, such as a DynamoDB proxy). */
export interface ServiceEndpoint {
  /** The service's SigV4 signing name (`sns`, `sqs`): signed requests are routed by their credential scope. */
  readonly service: string;
  /** Recognizes an unsigned request as this service's (so it can answer with the service's own error). */
  matches(request: EndpointRequest): boolean;
  handle(request: EndpointRequest): Promise<EndpointResponse>;
}

/** Options of {@link startEndpointServer}. */
export interface EndpointServerOptions {
  /** The services the server answers for; a request goes to the one its SigV4 credential scope names. */
  services: readonly ServiceEndpoint[];
  /**
   * TCP port.
   * @default 0 (a free port chosen by the system)
   */
  port?: number;
  /**
   * Address to listen on. The local stage stays on loopback.
   * @default "127.0.0.1"
   */
  host?: string;
  /**
   * Largest request body accepted, in bytes (SQS takes messages up to 1 MiB).
   * @default 4194304 (4 MiB)
   */
  maxBodyBytes?: number;
}

/** A running endpoint server. */
export interface EndpointServer {
  /** `http://127.0.0.1:<port>`: what `endpoint` (or `AWS_ENDPOINT_URL_<SERVICE>`) of an SDK client is set to. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Ends pending long polls, answers what is in flight, then closes every connection. */
  close(): Promise<void>;
}

/** The port asked for is taken (or not allowed); the message says what to do. */
export class PortInUseError extends Error {
  override name = "PortInUseError";

  constructor(
    readonly port: number,
    message = `port ${port} is in use: stop the other process or pass --port`,
  ) {
    super(message);
  }
}

const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** How long `close()` waits for in-flight requests to answer after their long polls were aborted. */
const CLOSE_GRACE_MS = 2_000;

/**
 * Starts an HTTP server speaking the wire protocols of the given AWS services on one port (as LocalStack does on 4566),
 * so unmodified AWS SDK clients reach them with `endpoint` set to its `url`.
 *
 * @example
 * const server = await startEndpointServer({ services: [createSnsEndpoint({ backend })] });
 * const sns = new SNSClient({ endpoint: server.url, region: "eu-west-1" });
 * // ...
 * await server.close();
 */
export async function startEndpointServer(options: EndpointServerOptions): Promise<EndpointServer> {
  const host = options.host ?? "127.0.0.1";
  const requestedPort = options.port ?? 0;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const services = [...options.services];
  const inFlight = new Set<Served>();
  let closing = false;

  const server = createServer((req, res) => {
    const served = new Served(req, res, host);
    // Only a request still unanswered has anyone to tell (a long poll). Aborting after every answer would build an
    // AbortError (a DOMException, with its stack) per request for nobody: the bulk of the SNS/SQS endpoints' CPU.
    res.on("close", () => {
      if (!res.writableFinished) served.abort();
    });
    served.done = serve(served)
      // Writing the answer failed (the client went away): nothing left to tell anyone.
      .catch(() => void res.destroy())
      .finally(() => inFlight.delete(served));
    inFlight.add(served);
  });

  async function serve(served: Served): Promise<void> {
    const { req, res } = served;
    let response: EndpointResponse;
    try {
      const body = await readBody(req, maxBodyBytes);
      if (body === undefined) {
        response = plain(413, `request body larger than ${maxBodyBytes} bytes`);
      } else {
        served.body = body;
        served.credential = sigV4Credential(req.headers, served.url);
        const target = route(services, served);
        response = target
          ? await target.handle(served)
          : plain(404, `no local endpoint for ${served.credential ? `service "${served.credential.service}"` : "this request"}`);
      }
    } catch (error) {
      response = plain(500, `local endpoint failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (res.destroyed) return;
    res.writeHead(response.status, {
      ...response.headers,
      "content-length": String(Buffer.byteLength(response.body)),
      ...(closing ? { connection: "close" } : {}),
    });
    // Settles once the answer is flushed, so `close()` does not cut it off.
    await new Promise<void>((resolve) => {
      res.once("close", resolve);
      res.end(response.body, resolve);
    });
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === "EADDRINUSE") reject(new PortInUseError(requestedPort));
      else if (error.code === "EACCES") {
        reject(new PortInUseError(requestedPort, `port ${requestedPort} needs privileges this process does not have: pass another --port`));
      } else reject(error);
    };
    server.once("error", onError);
    server.listen(requestedPort, host, () => {
      server.off("error", onError);
      resolve();
    });
  });

  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closed: Promise<void> | undefined;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const pending = [...inFlight];
        for (const served of pending) served.abort();
        await Promise.race([Promise.allSettled(pending.map((served) => served.done)), delay(CLOSE_GRACE_MS)]);
        server.closeAllConnections();
        await stopped;
      })();
      return closed;
    },
  };
}

/**
 * One request being served, as endpoints see it. Its abort signal is made when an endpoint asks for it: most requests
 * never do (a long poll does), and an AbortController per request (an EventTarget) was about a tenth of this server's
 * own CPU per request. A class, so every request has the same shape (an object literal with a getter per request
 * would not, and cost more than the controller).
 */
class Served implements EndpointRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  body: Buffer = EMPTY;
  credential: SigV4Credential | undefined = undefined;
  /** Settles once the answer is flushed (or could not be written). */
  done: Promise<void> = DONE;
  readonly remoteAddress: string;
  private controller: AbortController | undefined = undefined;
  private aborted = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    host: string,
  ) {
    this.method = req.method ?? "GET";
    this.url = req.url ?? "/";
    this.headers = req.headers;
    this.remoteAddress = req.socket.remoteAddress ?? host;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** The client went away before the answer, or the server closes. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.controller?.abort();
  }
}

const EMPTY = Buffer.alloc(0);
const DONE = Promise.resolve();

function route(services: readonly ServiceEndpoint[], request: EndpointRequest): ServiceEndpoint | undefined {
  if (request.credential) return services.find((service) => service.service === request.credential?.service);
  return services.find((service) => service.matches(request)) ?? (services.length === 1 ? services[0] : undefined);
}

/** Reads a request body whole; `undefined` when it is larger than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function plain(status: number, message: string): EndpointResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify({ message }) };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
