/** Small HTTP helpers of the local stage's server: listening with a clear error, reading bodies, JSON answers. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { PortInUseError } from "../endpoints/server";

/** A listening server. */
export interface ListeningServer {
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops accepting, ends keep-alive connections, waits for open requests up to `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Listens on `host:port` (loopback). A taken port rejects with `PortInUseError`, whose message says what to do.
 */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, port: number, host = "127.0.0.1"): Promise<ListeningServer> {
  const server = createServer(handler);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === "EADDRINUSE") reject(new PortInUseError(port));
      else if (error.code === "EACCES") reject(new PortInUseError(port, `port ${port} needs privileges this process does not have: pass another --port`));
      else reject(error);
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    server,
    port: actual,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${actual}`,
    close(graceMs = 2_000) {
      closed ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}

export { readBody } from "../endpoints/server";

/** Answers JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
  res.end(text);
}
