/**
 * Benchmark of the orchestrated path on the local stage: orders.order-placed published until the fulfil-order saga it
 * starts has closed (the example service fulfilment: SNS, SQS, the consumer's StartExecution through the Step
 * Functions endpoint, the Parallel state's two Lambda tasks in their hosts, the sns:publish of
 * fulfilment.order-fulfilled). One event at a time after a warm-up, so each figure is one event's latency, split into
 * publish -> execution started and the execution itself. Prints median and p99 and one JSON line.
 *
 *   node --import tsx shared/local/bench/workflow.ts [--events 200] [--warmup 20]
 */
import { join } from "node:path";
import { catalog } from "../../contract/catalog";
import { startLocalStage, type LocalStage } from "../stage";
import type { ExecutionRecord } from "../stepfunctions";

const REPO = join(__dirname, "..", "..", "..");

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number of at least 1`);
  return value;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Publishes one order and resolves once the execution named after it has closed. */
async function oneEvent(stage: LocalStage, stateMachineArn: string, ordinal: number): Promise<{ totalMs: number; toStartMs: number; executionMs: number; execution: ExecutionRecord }> {
  const data = { ...catalog["orders.order-placed"].example, orderId: `bench-order-${ordinal}`, customerId: `bench-customer-${ordinal}` };
  const started = performance.now();
  const startedAt = Date.now();
  const { eventId } = stage.publish("orders.order-placed", data);
  const executionArn = `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${eventId}`;
  let execution: ExecutionRecord | undefined;
  while (!execution) {
    execution = stage.workflows.executions(stateMachineArn).find((e) => e.executionArn === executionArn);
    if (!execution) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const done = await execution.done;
  const totalMs = performance.now() - started;
  if (done.status !== "SUCCEEDED") throw new Error(`execution ${done.name} ${done.status}: ${done.error}: ${done.cause}`);
  return { totalMs, toStartMs: done.startDate.getTime() - startedAt, executionMs: done.stopDate!.getTime() - done.startDate.getTime(), execution: done };
}

async function main(): Promise<void> {
  const events = option("events", 200);
  const warmup = option("warmup", 20);
  const stage = await startLocalStage({ port: 0, serviceDirs: [join(REPO, "services", "fulfilment")], maxTraces: 1000 });
  try {
    const machine = stage.workflows.stateMachines().find((m) => m.name.endsWith("fulfil-order"));
    if (!machine) throw new Error("the fulfilment service's fulfil-order state machine is not on the stage");
    for (let i = 0; i < warmup; i++) await oneEvent(stage, machine.arn, i);
    const totals: number[] = [];
    const toStart: number[] = [];
    const executions: number[] = [];
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    for (let i = 0; i < events; i++) {
      const one = await oneEvent(stage, machine.arn, warmup + i);
      totals.push(one.totalMs);
      toStart.push(one.toStartMs);
      executions.push(one.executionMs);
    }
    const wall = performance.now() - wallBefore;
    const cpu = process.cpuUsage(cpuBefore);
    const summary = {
      bench: "workflow",
      events,
      medianMs: round(percentile(totals, 50)),
      p99Ms: round(percentile(totals, 99)),
      toStartMedianMs: round(percentile(toStart, 50)),
      executionMedianMs: round(percentile(executions, 50)),
      executionP99Ms: round(percentile(executions, 99)),
      cpuMsPerEvent: round((cpu.user + cpu.system) / 1000 / events),
      wallMsPerEvent: round(wall / events),
    };
    console.log(`event to workflow completion (fulfilment's fulfil-order saga, ${events} events one at a time after ${warmup} to warm up):`);
    console.log(`  median ${summary.medianMs} ms, p99 ${summary.p99Ms} ms`);
    console.log(`  of which publish -> execution started median ${summary.toStartMedianMs} ms; the execution median ${summary.executionMedianMs} ms, p99 ${summary.executionP99Ms} ms`);
    console.log(`  CPU of the process (every thread: functions, DynamoDB, the stage) ${summary.cpuMsPerEvent} ms per event`);
    console.log(JSON.stringify(summary));
  } finally {
    await stage.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
