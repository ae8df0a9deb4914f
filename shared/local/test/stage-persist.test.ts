// `npm start -- --persist <dir>`: DynamoDB's data outlives the stage; queues and topics start empty each time.
// And Ctrl-C: the CLI stops its threads and servers, frees its port, exits 0, and loses nothing it had written.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { catalog } from "../../contract/catalog";
import { eventually } from "../../testing/stage-target";
import { startLocalStage, type LocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const dir = mkdtempSync(join(tmpdir(), "local-stage-persist-"));
// The two services an order and its invoice need: the stage starts no other service's functions (nor PostgreSQL).
const serviceDirs = ["orders", "billing"].map((name) => join(__dirname, "..", "..", "..", "services", name));
const { orderId: _omitted, ...order } = catalog["orders.order-placed"].example;

test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Every item key (pk) of the stage's data table, read from dynalite directly (past IAM). */
async function dataKeys(stage: LocalStage): Promise<string[]> {
  const client = new DynamoDBClient({ endpoint: stage.endpoints.dynalite, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  try {
    const { Items = [] } = await client.send(new ScanCommand({ TableName: "local-data" }));
    return Items.map((item) => item.pk?.S ?? "").sort();
  } finally {
    client.destroy();
  }
}

/** POST /orders, then waits until the conversation has settled (billing wrote its invoice). */
async function placeOrder(stage: LocalStage): Promise<void> {
  const response = await fetch(`${stage.url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) });
  await response.text();
  assert.is(response.status, 201);
  const correlationId = response.headers.get("x-correlation-id")!;
  // A bound for a hang, not a measure: on a loaded machine the four functions' cold starts alone take seconds.
  await eventually(`order ${correlationId} settled`, () => (stage.trace(correlationId)?.settled ? true : undefined), 60_000);
}

test("with persistDir, the orders and invoices of one run are there in the next; in memory, they are not", async () => {
  const first = await startLocalStage({ port: 0, persistDir: dir, serviceDirs });
  let written: string[];
  try {
    assert.is(first.storage, dir);
    await placeOrder(first);
    written = await dataKeys(first);
    assert.ok(written.some((k) => k.startsWith("$orders#")), `an order was written: ${written.join(", ")}`);
    assert.ok(written.some((k) => k.startsWith("$billing#")), `an invoice was written: ${written.join(", ")}`);
  } finally {
    await first.stop();
  }
  assert.ok(readdirSync(dir).length > 0, "LevelDB files are in the folder");

  const second = await startLocalStage({ port: 0, persistDir: dir, serviceDirs });
  try {
    assert.equal(await dataKeys(second), written, "the second run starts with the first run's items");
    await placeOrder(second); // the tables exist already: nothing to create, nothing refused
    assert.is((await dataKeys(second)).length, written.length * 2);
  } finally {
    await second.stop();
  }

  const inMemory = await startLocalStage({ port: 0, serviceDirs });
  try {
    assert.is(inMemory.storage, "memory");
    assert.equal(await dataKeys(inMemory), []);
  } finally {
    await inMemory.stop();
  }
});

test("Ctrl-C stops the CLI cleanly: exit 0, the port free again, and what it wrote is there in the next run", async () => {
  const folder = mkdtempSync(join(tmpdir(), "local-stage-sigint-"));
  // The two services the order and its invoice need (--services), as the in-process stages above.
  const cli = spawn(process.execPath, ["--import", "tsx", join(__dirname, "..", "cli.ts"), "--port", "0", "--persist", folder, "--no-watch", "--services", "orders,billing"], {
    cwd: join(__dirname, "..", "..", ".."),
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let stdout = "";
    let stderr = "";
    cli.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    cli.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => cli.on("close", resolve));
    const url = await eventually(
      "the ready line",
      () => {
        if (cli.exitCode !== null) throw new Error(`the CLI exited before its ready line:\n${stdout}\n${stderr}`);
        return /local stage ready in [\d.]+ s: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      },
      // A bound, not a measure: the start bundles every service's functions, and a repository may hold many.
      90_000,
    );
    assert.match(stdout, /\| services: orders, billing \|/, "only the services named by --services");
    const response = await fetch(`${url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) });
    await response.text();
    const correlationId = response.headers.get("x-correlation-id")!;
    await eventually(`order ${correlationId} settled`, async () => {
      const { tree } = (await (await fetch(`${url}/_local/trace/${correlationId}`)).json()) as { tree?: { settled?: boolean } };
      return tree?.settled ? true : undefined;
    });

    cli.kill("SIGINT");
    let timer: NodeJS.Timeout | undefined;
    // A bound for a hang: stopping (the engines' threads, LevelDB's files) takes seconds on a loaded machine.
    const code = await Promise.race([exited, new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), 60_000)))]);
    clearTimeout(timer);
    assert.is(code, 0, `exit code (stderr: ${stderr})`);
    assert.match(stdout, /local stage: SIGINT, stopping/);
    assert.not.match(stderr, /\n\s+at /, "no stack trace");
    const port = Number(new URL(url).port);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(false)));
      socket.once("error", () => resolve(true));
    });
    assert.ok(refused, `port ${port} is free again`);

    const next = await startLocalStage({ port: 0, persistDir: folder, serviceDirs });
    try {
      const keys = await dataKeys(next);
      assert.ok(keys.some((k) => k.startsWith("$orders#")) && keys.some((k) => k.startsWith("$billing#")), keys.join(", "));
    } finally {
      await next.stop();
    }
  } finally {
    if (cli.exitCode === null && cli.signalCode === null) cli.kill("SIGKILL"); // a failed assertion must not leave it running
    rmSync(folder, { recursive: true, force: true });
  }
});

test.run();
