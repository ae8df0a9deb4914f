// The lock's acquire when DynamoDB applies the write but its answer is lost: the SDK retries the same request,
// the retry's condition fails on the item the first attempt wrote, and the lock must still count as taken by
// this call (not as another holder's, which would hold the event up until the lock expires).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startDynamoDbFaultProxy, type DynamoDbFaultProxy } from "../../local/faults/dynamodb-fault-proxy";
import { EventInProgressError } from "../errors";
import { EventLock, IDEMPOTENCY_RECORD } from "../event-lock";
import { useLocalAwsEnvironment } from "./helpers/aws-environment";
import { startDynalite, TEST_TABLES, type LocalDynamo } from "./helpers/dynalite";

let dynamo: LocalDynamo;
let proxy: DynamoDbFaultProxy;
const puts: { status: string | undefined; answered: number }[] = [];
let loseNext = 0;

test.before(async () => {
  useLocalAwsEnvironment();
  process.env.AWS_MAX_ATTEMPTS = "3"; // as in Lambda: the SDK retries a 500 on its own
  dynamo = await startDynalite();
  proxy = await startDynamoDbFaultProxy({
    target: dynamo.endpoint,
    inspect: () => true,
    decide: (call) => {
      if (call.operation !== "PutItem") return undefined;
      const item = call.request.Item as Record<string, { S?: string }> | undefined;
      if (item?.[IDEMPOTENCY_RECORD.status]?.S !== IDEMPOTENCY_RECORD.inProgress || loseNext === 0) return undefined;
      loseNext--;
      return { fault: { kind: "error", error: "InternalServerError", when: "after" } };
    },
    onForwarded: (call, status) => {
      const item = call.request.Item as Record<string, { S?: string }> | undefined;
      if (call.operation === "PutItem") puts.push({ status: item?.[IDEMPOTENCY_RECORD.status]?.S, answered: status });
    },
  });
  // The runtime's client is created on first use: from here on it talks through the fault proxy.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.endpoint;
});

test.after(async () => {
  await proxy?.close();
  await dynamo?.stop();
});

test("a lost answer to acquire's write: the SDK's retry finds this call's own lock and the lock is taken", async () => {
  const lock = new EventLock({ table: TEST_TABLES.idempotency });
  const key = "billing#issue-invoice#event-lost-1";
  loseNext = 1;
  assert.is(await lock.acquire(key, 30_000), "acquired");
  // Both attempts reached DynamoDB: the first wrote the lock (its answer replaced by a 500), the retry was refused.
  assert.equal(puts.map((p) => p.answered), [200, 400]);
  const stored = (await dynamo.scan(TEST_TABLES.idempotency)).find((item) => item.id === key);
  assert.is(stored?.status, IDEMPOTENCY_RECORD.inProgress);
  assert.type(stored?.[IDEMPOTENCY_RECORD.owner], "string");

  // Anyone else (a duplicate delivery, another acquire call) still finds the lock held.
  try {
    await lock.acquire(key, 30_000);
    assert.unreachable("a second acquire must not take a live lock");
  } catch (error) {
    assert.instance(error, EventInProgressError);
  }
  await lock.complete(key);
  assert.is(await lock.acquire(key, 30_000), "completed");
});

test.run();
