// The fault run covers a workflow's starter: with the example service fulfilment beside orders and billing, its
// consumer of orders.order-placed (which starts the fulfil-order saga named after the event) has its StartExecution
// calls throttled past the SDK's retries and its worker killed right after a start; every valid event must still
// start exactly one execution, which succeeds and publishes one follow-up, and no poison event may start one. The
// checker is also shown to report input that breaks those rules.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkWorkflowRun, formatCounts, runFaultScenario, workflowFaultDraws } from "../faults";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const SERVICES = ["orders", "billing", "fulfilment"].map((name) => join(__dirname, "..", "..", "..", "services", name));

test("the workflow check reports a missing, doubled, failed or poison execution and a wrong follow-up count", () => {
  const clean = {
    valid: ["a", "b"],
    poison: ["p"],
    executions: [
      { name: "a", status: "SUCCEEDED" },
      { name: "b", status: "SUCCEEDED" },
    ],
    started: new Map([
      ["a", 1],
      ["b", 1],
    ]),
    followUps: ["a", "b"],
  };
  assert.equal(checkWorkflowRun(clean).violations, []);
  const rules = (observed: Parameters<typeof checkWorkflowRun>[0]) => checkWorkflowRun(observed).violations.map((v) => `${v.rule}:${v.eventId}`);
  assert.equal(rules({ ...clean, executions: [clean.executions[0]!], followUps: ["a"] }), ["not-started:b"]);
  assert.equal(rules({ ...clean, executions: [clean.executions[0]!], followUps: ["a"], deadLettered: ["b"] }), [], "given up on, in the DLQ: not lost");
  assert.equal(rules({ ...clean, started: new Map([["a", 2], ["b", 1]]) }), ["started-twice:a"]);
  assert.equal(rules({ ...clean, executions: [clean.executions[0]!, { name: "b", status: "FAILED" }], followUps: ["a"] }), ["not-succeeded:b"]);
  assert.equal(rules({ ...clean, followUps: ["a", "a", "b"] }), ["follow-up-count:a"]);
  assert.equal(rules({ ...clean, executions: [...clean.executions, { name: "p", status: "SUCCEEDED" }] }), ["poison-started:p"]);
});

/**
 * The run's compressed time, as faults.test.ts's fixed run: the scenario's default function timeout (4 s) is within
 * reach of a consumer's invocation on a loaded machine (CI runs test files side by side on 2 cores), and a timed-out
 * starter is a fault this run does not plan. 20 s is out of reach (faults.test.ts's slowest consumer invocation under
 * four busy loops on its core: 12.9 s) and changes no fault drawn here: a throttled start still fails its record, a
 * killed starter's record still comes back (after 21 s, the visibility), and POST /orders gets 30 s as there.
 */
const TIMING = { functionTimeoutSeconds: 20, visibilityTimeoutSeconds: 21, routeFunctionTimeoutSeconds: 30 } as const;

test("a fixed-seed run with the workflow's starter under faults: one execution per valid event, none twice, none for poison", async () => {
  const rates = { throttle: 0.12, crashAfterStart: 0.15 };
  const run = await runFaultScenario({
    events: 40,
    seed: 11,
    serviceDirs: SERVICES,
    rates: { undeliverable: 0, failingForever: 0 },
    workflowRates: rates,
    timing: TIMING,
    // Records that come back do so 21 s apart: a bound for a hang, well past them.
    drainTimeoutMs: 240_000,
  });
  console.log(formatCounts(run));
  const workflow = run.counts.workflow;
  assert.ok(workflow, "the run found the starter");
  assert.equal(workflow!.starters, ["fulfilment/on-order-placed"]);
  assert.ok(run.drained, "drained");
  // Billing's own invariants are faults.test.ts's; here, the workflow's.
  assert.equal(run.workflowViolations, [], JSON.stringify(run.workflowViolations.slice(0, 5)));
  const valid = run.check.verdicts.filter((v) => v.route !== "poison").map((v) => v.eventId);
  assert.is(workflow!.executions + workflow!.deadLettered, valid.length, "one execution per valid event (or it waits in the starter's DLQ)");
  assert.is(workflow!.succeeded, workflow!.executions);
  // The faults happened as drawn for these event ids.
  const drawn = (kind: "throttle" | "crashAfterStart") => valid.filter((id) => workflowFaultDraws(11, id)[kind] < rates[kind]).length;
  // An event whose starter timed out before it called StartExecution (a loaded machine) meets no throttle: at most these.
  assert.ok(workflow!.throttledEvents <= drawn("throttle"), `${workflow!.throttledEvents} throttled, ${drawn("throttle")} drawn`);
  assert.ok(workflow!.throttledEvents + workflow!.crashes > 0, "the starter met its faults");
  assert.ok(workflow!.throttledEvents === 0 || workflow!.throttledStarts > workflow!.throttledEvents, "throttled starts were retried");
  assert.ok(drawn("throttle") + drawn("crashAfterStart") > 0, "seed 11 and these ids drew no fault: raise the rates");
  assert.ok(workflow!.crashes <= drawn("crashAfterStart"));
  assert.ok(workflow!.sameExecution + workflow!.alreadyExists >= workflow!.crashes, "each crashed start came again and started nothing new");
});

test.run();
