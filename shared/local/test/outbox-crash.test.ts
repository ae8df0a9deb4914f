// The outbox's proof on the local stage with the example services: orders' create-order is killed right after its
// transaction (the order and orders.order-placed in one write) took effect, where it used to publish. The request
// never gets the handler's answer, yet orders' outbox table's stream hands the recorded event to orders' relay, which
// publishes it once; billing applies it once; the client's retry with the same Idempotency-Key writes the same order
// and records the same event id, which goes out no second time.
import { join } from "node:path";
import { DynamoDBClient, ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract/catalog";
import { eventually } from "../../testing/stage-target";
import { startDynamoDbFaultProxy, type DynamoDbFaultProxy } from "../faults/dynamodb-fault-proxy";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
const CREATE_ORDER = "local-orders-create-order";
let stage: LocalStage;
let proxy: DynamoDbFaultProxy;
let dynamo: DynamoDBClient;
/** Kill create-order after its next transaction took effect. */
let crashNext = false;
let crashes = 0;
/** Event ids SNS took for orders.order-placed, one entry per accepted publish. */
const published: string[] = [];

test.before(async () => {
  proxy = await startDynamoDbFaultProxy({
    inspect: (principal) => principal === CREATE_ORDER,
    decide: (call) => {
      if (!crashNext || call.operation !== "TransactWriteItems") return undefined;
      crashNext = false;
      return {
        fault: {
          kind: "crash",
          when: "after",
          crash: async () => {
            if (await stage.hosts.get(CREATE_ORDER)!.crash({ ...(call.traceHeader ? { traceHeader: call.traceHeader } : {}) })) crashes++;
          },
        },
      };
    },
  });
  stage = await startLocalStage({
    port: 0,
    serviceDirs: [join(REPO, "services", "orders"), join(REPO, "services", "billing")],
    endpoints: { dynamodb: proxy.endpoint },
    // The killed attempt's Idempotency-Key lock lasts its remaining time, so the retry waits for about the function's
    // timeout. Not 2 s: a call on a loaded machine (CI runs test files side by side on 2 cores) can take longer before
    // its transaction, and a timed-out first call is not the crash this test makes. 20 s is out of reach (a consumer's
    // slowest invocation in the loaded fault run: 12.9 s) and the retry's bound below (60 s) outlasts it.
    adjustWiring: (wiring) => ({ ...wiring, functions: wiring.functions.map((f) => (f.name === CREATE_ORDER ? { ...f, timeoutSeconds: 20 } : f)) }),
  });
  proxy.setTarget(stage.endpoints.dynamodbProxy);
  dynamo = new DynamoDBClient({ region: "us-east-1", endpoint: stage.endpoints.dynalite, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const publish = stage.sns.publish;
  stage.sns.publish = function counted(this: typeof stage.sns, input, context) {
    const result = publish.call(this, input, context);
    if (input.TopicArn.endsWith(":local-orders-order-placed")) published.push((JSON.parse(input.Message) as { id: string }).id);
    return result;
  };
});

test.after(async () => {
  dynamo?.destroy();
  await stage?.stop();
  await proxy?.close();
});

async function items(prefix: string): Promise<Record<string, any>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: "local-data", ExclusiveStartKey: start, ConsistentRead: true }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out.map((item) => unmarshall(item)).filter((item) => String(item.pk).startsWith(prefix));
}

test("create-order killed right after its write: its event still goes out, once; billing applies it once; the retry adds nothing", async () => {
  const { orderId: _assigned, ...order } = catalog["orders.order-placed"].example;
  const body = JSON.stringify({ ...order, customerId: "c-outbox-crash" });
  const headers = { "content-type": "application/json", "idempotency-key": "7a0c5e2b-3f41-4d8e-9b6a-1c2d3e4f5a6b", "x-correlation-id": "outbox-crash-1" };
  crashNext = true;
  const crashed = await fetch(`${stage.url}/orders`, { method: "POST", headers, body });
  await crashed.text();
  assert.is(crashes, 1, "the worker was killed after the transaction");
  assert.ok(crashed.status >= 500, `the client got no answer from the handler (${crashed.status})`);

  const [stored] = await eventually("the order", async () => {
    const found = (await items("$orders#")).filter((o) => o.details?.customerId === "c-outbox-crash" && o.orderId);
    return found.length ? found : undefined;
  });
  const orderId = stored!.orderId as string;
  const invoice = await eventually("billing's invoice for the order", async () => (await items("$billing#")).find((i) => i.details?.orderId === orderId));
  assert.ok(invoice);
  assert.is(new Set(published).size, 1, "one event id went out");
  const eventId = published[0]!;

  // The client retries with the same key once the killed attempt's lock has expired.
  const retried = await eventually("the retry to be answered", async () => {
    const response = await fetch(`${stage.url}/orders`, { method: "POST", headers: { ...headers, "x-correlation-id": "outbox-crash-2" }, body });
    const json = (await response.json()) as { orderId?: string };
    return response.status === 201 ? json : undefined;
  }, 60_000); // a bound for a hang, not a measure: the lock expires in seconds, a loaded machine takes more
  assert.is(retried.orderId, orderId, "the retry wrote the same order");
  const tree = await eventually("the retry's trace to settle", () => (stage.trace("outbox-crash-2")?.settled ? stage.trace("outbox-crash-2") : undefined));
  const text = renderTrace(tree!);
  // The outbox item lives in orders' own outbox table: its MODIFY is on that table's stream, which only orders' relay
  // reads (and whose filter leaves MODIFYs out).
  assert.match(text, /wrote TransactWriteItems on local-data, local-orders-outbox/, text);
  assert.match(text, /stream record MODIFY on local-orders-outbox \(\$orders#orderid_[^,]+, \$outbox#/, text);
  assert.not.match(text, /on local-data \([^)]*\$outbox#/, "no outbox item in the data table");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(published, [eventId], "the retry's outbox write was a MODIFY: nothing published again");
  assert.is((await items("$orders#")).filter((o) => o.orderId === orderId).length, 1, "one order");
  assert.is((await items("$billing#")).filter((i) => i.details?.orderId === orderId).length, 1, "one invoice");
});

test.run();
