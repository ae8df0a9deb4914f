/**
 * The floor under the local stage's throughput: what one call of the unmodified AWS SDK costs on this machine when
 * nothing else does any work. A fresh worker thread (as a function runs in the local stage) sends DynamoDB
 * `PutItem`s to an HTTP server in the main thread that answers `{}` at once; after a warm-up, the process's CPU time
 * per call is the least any SDK call of a handler can cost here, whatever the engines behind it do.
 *
 * With `calls` SDK calls per event, no stage on `cores` cores can pass more than `cores * 1000 / (calls * cpuMs)`
 * events per second: the bench prints that bound next to the measured throughput.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";

export interface SdkFloor {
  /** Calls measured (after as many warm-up calls). */
  calls: number;
  /** Wall-clock milliseconds per call, one call at a time. */
  wallMs: number;
  /** CPU milliseconds per call, all threads of the process (client, HTTP on both sides, the no-op answer). */
  cpuMs: number;
}

// Runs inside the worker: plain CommonJS, the SDK from this repository's node_modules.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
process.on("warning", () => undefined);
// The SDK's notice about this Node.js version (the local stage's function workers quiet it the same way).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const { DynamoDBClient, PutItemCommand } = require(workerData.sdk);
const client = new DynamoDBClient({
  region: "us-east-1",
  endpoint: workerData.endpoint,
  maxAttempts: 1,
  credentials: { accessKeyId: "AKIAFLOOR", secretAccessKey: "floor" },
});
const put = (i) => client.send(new PutItemCommand({
  TableName: "floor",
  Item: { pk: { S: "$floor#id_" + i }, sk: { S: "$item_1" }, amount: { N: String(i) } },
}));
(async () => {
  for (let i = 0; i < workerData.calls; i++) await put(i);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < workerData.calls; i++) await put(i);
  const used = process.cpuUsage(cpu);
  parentPort.postMessage({ wallMs: (performance.now() - started) / workerData.calls, cpuMs: (used.user + used.system) / 1000 / workerData.calls });
  client.destroy();
})().catch((error) => parentPort.postMessage({ error: String(error && error.stack || error) }));
`;

/** Measures {@link SdkFloor} with `calls` warm-up calls, then `calls` measured ones. */
export async function measureSdkFloor(calls = 4000): Promise<SdkFloor> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/x-amz-json-1.0", "content-length": "2" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const worker = new Worker(WORKER, { eval: true, workerData: { sdk: require.resolve("@aws-sdk/client-dynamodb"), endpoint, calls } });
    const answer = await new Promise<{ wallMs: number; cpuMs: number; error?: string }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    if (answer.error) throw new Error(`the SDK floor measurement failed: ${answer.error}`);
    return { calls, wallMs: answer.wallMs, cpuMs: answer.cpuMs };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
