// What the stream fault runs share (shared/local/faults/stream-run.ts): the crasher on a real function host, the
// poison records, and the accounting that turns an unaccounted event or poison record into a violation.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseEvent } from "../../runtime/envelope";
import { accountForEvents, accountForPoison, crashRunningBatches, poisonRecord, type RecordsFound } from "../faults/stream-run";
import { Prng } from "../faults/prng";
import { FunctionHost } from "../lambda";

const ENTRY = join(__dirname, "fixtures", "function-host-handler.ts");
const found = (ids: string[], bodies: string[] = []): RecordsFound => ({ ids: new Set(ids), bodies: new Set(bodies) });

test("every event is applied, given up on or reported; one that is none is a violation naming it", () => {
  const violations: string[] = [];
  const planned = [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }, { id: "e" }];
  const counts = accountForEvents(
    planned,
    // "e" is applied and also inside a given-up range (a retried batch): it counts as applied, once.
    { applied: (e) => e.id === "a" || e.id === "e", givenUp: found(["b", "e"]), reported: found(["c"]), describe: (e) => `key of ${e.id}` },
    violations,
  );
  assert.equal(counts, { applied: 2, deadLettered: 1, reported: 1 });
  assert.equal(violations, ["event d (key of d) was lost: not applied, not in an on-failure range, not reported"]);
});

test("every poison record is reported or given up on; one that is neither is a violation", () => {
  const violations: string[] = [];
  const counts = accountForPoison(["p1", "p2", "p3"], { givenUp: found([], ["p2"]), reported: found([], ["p1"]) }, violations);
  assert.equal(counts, { poisonReported: 1, poisonDeadLettered: 1 });
  assert.equal(violations, ["poison record p3 became no failure event and is in no on-failure range"]);
});

test("poison records: the same seed gives the same records, text that is no JSON or an envelope that breaks the schema", () => {
  const draw = (seed: number) => Array.from({ length: 20 }, (_, i) => poisonRecord(new Prng(seed + i), { seed, i, type: "ledger.entry-posted", source: "ledger", data: { customerId: "c-1" } }));
  assert.equal(draw(3), draw(3));
  const records = draw(3);
  const envelopes = records.filter((r) => r.startsWith("{"));
  assert.ok(envelopes.length > 0 && envelopes.length < records.length, "both kinds");
  for (const text of records.filter((r) => !r.startsWith("{"))) assert.match(text, /^not an event \d+$/);
  for (const text of envelopes) {
    assert.is(JSON.parse(text).type, "ledger.entry-posted");
    assert.throws(() => parseEvent(text), undefined, "a poison envelope does not pass the catalog's schema");
  }
});

test("the crasher kills running invocations, never more than max, none while nothing runs and none once stopped", async () => {
  const host = new FunctionHost({ entry: ENTRY, name: "crash-target", timeout: 10 }, { region: "eu-west-1", onLog: () => undefined });
  try {
    // Warm: a crash aimed at an invocation still starting its worker misses it (and counts, as in the fault runs).
    assert.is((await host.invoke({ action: "sleep", ms: 1 }, { requestId: "warm" })).ok, true);
    const crasher = crashRunningBatches(host, { prng: new Prng(1), max: 3, everyMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.is(crasher.count, 0, "nothing ran: no crash");
    const crashed = await host.invoke({ action: "sleep", ms: 2000 }, { requestId: "r-1" });
    assert.is(crashed.ok, false, "the running invocation was crashed");
    assert.ok(!crashed.ok && crashed.error.errorType === "Runtime.ExitError", JSON.stringify(crashed));
    assert.ok(crasher.count >= 1 && crasher.count <= 3, String(crasher.count));
    crasher.stop();
    const count = crasher.count;
    assert.is((await host.invoke({ action: "sleep", ms: 300 }, { requestId: "r-2" })).ok, true, "stopped: it runs to its end");
    assert.is(crasher.count, count);

    const once = crashRunningBatches(host, { prng: new Prng(2), max: 1, everyMs: 5 });
    // As long as r-1: the crasher's 5 ms check must come round while it runs, on a loaded machine too.
    await host.invoke({ action: "sleep", ms: 2000 }, { requestId: "r-3" });
    assert.is(once.count, 1);
    assert.is((await host.invoke({ action: "sleep", ms: 300 }, { requestId: "r-4" })).ok, true, "max reached: the next one runs to its end");
    assert.is(once.count, 1);
    once.stop();
  } finally {
    await host.stop();
  }
});

test.run();
