import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENV } from "../../contract";
import { bundleOptions } from "../bundle-options";
import { setFunctionEnvironment, useLocalAwsEnvironment } from "./helpers/aws-environment";
import { cloudEvent, orderPlaced, sqsEvent, sqsRecord } from "./helpers/events";
import { SfnStub } from "./helpers/sfn-server";
// The entry the starter bundle is built from (imported too, so it is type-checked and known to be used).
import { handler as starterHandler } from "./helpers/workflow-starter";

// Functions are built as the function component builds them. One that never calls startWorkflow carries no byte of
// the Step Functions client; one that does starts an execution from its bundle, run by plain Node.
const out = join(__dirname, ".build", "workflow-bundle");
const MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:test-orders-fulfil";
const stub = new SfnStub();
const bundles: Record<"plain" | "starter", { file: string; bytes: number; sfnBytes: number }> = {} as never;

async function build(name: "plain" | "starter", entry: string): Promise<void> {
  const file = join(out, name, "index.mjs");
  const metafile = (await esbuild.build(bundleOptions(entry, file))).metafile!;
  const [output] = Object.values(metafile.outputs);
  const sfnBytes = Object.entries(output!.inputs)
    .filter(([path]) => /@aws-sdk\/client-sfn\/|shared\/runtime\/workflow\.ts$/.test(path))
    .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
  bundles[name] = { file, bytes: output!.bytes, sfnBytes };
}

test.before(async () => {
  useLocalAwsEnvironment();
  await stub.start();
  await build("plain", join(__dirname, "..", "bench", "sample", "issue-invoice.ts"));
  assert.type(starterHandler, "function");
  await build("starter", join(__dirname, "helpers", "workflow-starter.ts"));
});
test.after(() => stub.close());

test("a function that does not start workflows bundles nothing of the Step Functions client; one that does, about 25 KB", () => {
  assert.is(bundles.plain.sfnBytes, 0);
  assert.ok(bundles.starter.sfnBytes > 10_000, `starter has ${bundles.starter.sfnBytes} bytes of it`);
  assert.ok(bundles.starter.sfnBytes < 60_000, `starter has ${bundles.starter.sfnBytes} bytes of it`);
});

test("the bundled starter, run by plain Node, starts the execution named after the event", async () => {
  setFunctionEnvironment({ service: "orders", handler: "on-order-placed" });
  const env = { ...process.env, [ENV.workflows]: JSON.stringify({ fulfil: MACHINE }), AWS_ENDPOINT_URL_SFN: stub.url };
  const body = JSON.stringify(cloudEvent("orders.order-placed", orderPlaced({ orderId: "o-bundle" })));
  const script = `
    const { handler } = await import(${JSON.stringify(pathToFileURL(bundles.starter.file).href)});
    const result = await handler(${JSON.stringify(sqsEvent(sqsRecord(body)))});
    console.log(JSON.stringify(result));
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on("close", resolve));
  assert.is(code, 0, stderr);
  assert.equal(JSON.parse(stdout.trim().split("\n").at(-1)!), { batchItemFailures: [] });
  assert.is(stub.requests.length, 1);
  assert.is(stub.requests[0]!.body.name, JSON.parse(body).id);
  assert.is(stub.requests[0]!.body.stateMachineArn, MACHINE);
});

test.run();
