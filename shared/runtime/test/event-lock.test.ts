import { test } from "uvu";
import * as assert from "uvu/assert";
import { documentClient, dynamoDbClient } from "../aws-clients";
import { EventInProgressError } from "../errors";
import { EventLock, IDEMPOTENCY_RECORD } from "../event-lock";
import { useLocalAwsEnvironment } from "./helpers/aws-environment";
import { startDynalite, TEST_TABLES, type LocalDynamo } from "./helpers/dynalite";

let dynamo: LocalDynamo;
let clock = Date.parse("2026-01-01T00:00:00Z");
const lock = new EventLock({ table: TEST_TABLES.idempotency, expiresAfterSeconds: 3600, now: () => clock });
let n = 0;
const key = () => `billing#issue-invoice#event-${++n}`;

async function record(id: string) {
  return (await dynamo.scan(TEST_TABLES.idempotency)).find((item) => item.id === id);
}

async function inProgress(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return false;
  } catch (error) {
    return error instanceof EventInProgressError;
  }
}

test.before(async () => {
  useLocalAwsEnvironment();
  dynamo = await startDynalite();
});
test.after(() => dynamo?.stop());

test("acquire writes an in-progress record with a lock expiry, a TTL and an owner token of its own", async () => {
  const id = key();
  assert.is(await lock.acquire(id, 30_000), "acquired");
  const { [IDEMPOTENCY_RECORD.owner]: owner, ...rest } = (await record(id)) ?? {};
  assert.equal(rest, {
    [IDEMPOTENCY_RECORD.key]: id,
    [IDEMPOTENCY_RECORD.status]: "INPROGRESS",
    [IDEMPOTENCY_RECORD.inProgressExpiration]: clock + 30_000,
    [IDEMPOTENCY_RECORD.expiration]: clock / 1000 + 3600,
  });
  const other = key();
  await lock.acquire(other, 30_000);
  assert.match(String(owner), /^[0-9a-f-]{36}$/);
  assert.is.not((await record(other))?.[IDEMPOTENCY_RECORD.owner], owner, "each acquire call has its own token");
});

test("a held lock refuses a second holder until it expires", async () => {
  const id = key();
  await lock.acquire(id, 30_000);
  assert.ok(await inProgress(lock.acquire(id, 30_000)));
  clock += 29_000;
  assert.ok(await inProgress(lock.acquire(id, 30_000)));
  clock += 2_000;
  assert.is(await lock.acquire(id, 30_000), "acquired", "the holder crashed: its lock expired");
});

test("a completed event is reported as such, and release never deletes it", async () => {
  const id = key();
  await lock.acquire(id, 30_000);
  await lock.complete(id);
  assert.is(await lock.acquire(id, 30_000), "completed");
  await lock.release(id);
  assert.is((await record(id))?.status, "COMPLETED");
  clock += 3_601_000;
  assert.is(await lock.acquire(id, 30_000), "acquired", "past its TTL (not yet deleted by DynamoDB) it is gone");
});

test("release frees an in-progress lock at once", async () => {
  const id = key();
  await lock.acquire(id, 30_000);
  await lock.release(id);
  assert.is(await record(id), undefined);
  assert.is(await lock.acquire(id, 30_000), "acquired");
});

test("locks taken at once through the runtime's client (its middleware resolved once per command) each write their own item", async () => {
  // dynamoDbClient() resolves each command's middleware once (cacheMiddleware): every send must still carry its own
  // input, also while several are in flight. The document client sits on a client of its own, over the same HTTP handler.
  assert.is(dynamoDbClient().config.cacheMiddleware, true);
  const base = documentClient().config;
  assert.is.not(base.cacheMiddleware, true);
  assert.is(base.requestHandler, dynamoDbClient().config.requestHandler, "one connection pool");
  const ids = Array.from({ length: 25 }, key);
  assert.equal(await Promise.all(ids.map((id, i) => lock.acquire(id, 1_000 * (i + 1)))), ids.map(() => "acquired"));
  await Promise.all(ids.filter((_, i) => i % 2 === 0).map((id) => lock.complete(id)));
  await Promise.all(ids.filter((_, i) => i % 2 === 1).map((id) => lock.release(id)));
  const items = new Map((await dynamo.scan(TEST_TABLES.idempotency)).map((item) => [item.id, item]));
  ids.forEach((id, i) => {
    if (i % 2 === 1) assert.not.ok(items.has(id), `${id} released`);
    else assert.is(items.get(id)?.[IDEMPOTENCY_RECORD.status], "COMPLETED", id);
  });
  const acquiredAgain = await Promise.all(ids.map((id) => lock.acquire(id, 1_000)));
  assert.equal(acquiredAgain, ids.map((_, i) => (i % 2 === 0 ? "completed" : "acquired")));
  assert.is((await record(ids[3]!))?.[IDEMPOTENCY_RECORD.inProgressExpiration], clock + 1_000, "the second acquire's own lock expiry");
});

test.run();
