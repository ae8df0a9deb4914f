import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../../shared/contract";
import { serviceTestBed, type ServiceTestBed } from "../../../shared/testing";
import { handler } from "../handlers/on-order-placed";
import { STATE_MACHINE, workflowBed, type WorkflowBed } from "./workflow-bed";

const service = "fulfilment";
let bed: ServiceTestBed;
let workflows: WorkflowBed;

test.before(async () => {
  bed = await serviceTestBed({ service, handler: "on-order-placed" });
  workflows = await workflowBed(bed);
});

test.after(async () => {
  await workflows?.stop();
  await bed?.stop();
});

test("starts fulfil-order for orders.order-placed, named after the event; a duplicate delivery starts nothing twice", async () => {
  const data = catalog["orders.order-placed"].example;
  const event = bed.sqsEvent("orders.order-placed", data);
  assert.equal(await handler(event), { batchItemFailures: [] });
  assert.equal(await handler(event), { batchItemFailures: [] }, "a duplicate delivery is acknowledged");

  const executions = workflows.engine.executions(STATE_MACHINE);
  assert.is(executions.length, 1);
  assert.is(executions[0]!.name, bed.lastEventId);
  const input = JSON.parse(executions[0]!.input);
  assert.equal({ orderId: input.orderId, customerId: input.customerId, items: input.items, total: input.total }, data);
  assert.is(input._workflow.causationId, bed.lastEventId);
  assert.is((await executions[0]!.done).status, "SUCCEEDED");
});

test("an event that breaks its schema becomes a failure event and is acknowledged; nothing starts", async () => {
  const before = workflows.engine.executions().length;
  const event = bed.sqsEvent("orders.order-placed", { unexpected: true } as never);
  assert.equal(await handler(event), { batchItemFailures: [] });
  const failures = bed.failures();
  assert.is(failures.length, 1);
  assert.is(failures[0]!.data.reason, "invalid-event");
  assert.is(workflows.engine.executions().length, before);
});

test.run();
