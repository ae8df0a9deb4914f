/**
 * Benchmark of the local stage with the example services orders and billing (only those: other services that
 * subscribe to the same events would add their work to each event, which the floor below does not count):
 * - start-up: a fresh `shared/local/cli.ts` process until its ready line (median of 5);
 * - end-to-end latency: POST /orders until billing's invoice write has been answered by DynamoDB (median, p99 over
 *   200 sequential requests after 20 warm-up requests: the functions' JIT is still warming), then again over 200
 *   requests once 500 have passed (steady state). The times are the stage's own trace timestamps, so how often the
 *   bench looks at the trace does not change them;
 * - throughput: 2,000 orders.order-placed published by hand, until billing has handled every one (SNS -> SQS ->
 *   handler -> DynamoDB -> SNS), in events per second; then 6,000 more that warm every worker's JIT (five consumer
 *   workers and the relay each compile and optimize the SDK on their own: the CPU per event still falls by a tenth
 *   between the 2,000th and the 8,000th event), then 4,000 more (steady state, what the floor is compared with: the
 *   floor's own worker has made 4,000 calls before it is measured);
 * - the floor under throughput: the CPU one unmodified AWS SDK call costs on this machine against a server that
 *   answers at once (sdk-floor.ts), times the SDK calls billing makes per event (its consumer's calls for one event,
 *   from a trace, plus its relay's SNS calls counted during the steady run: the relay sends the events of several
 *   records in one PublishBatch, so under load it makes fewer calls than events), gives the most events per second
 *   any local stage could pass on these cores. Measured three times (its median is used, all three printed): one
 *   measurement varies by a fifth between runs on this machine.
 * - handler edit to new code serving (watch mode): a stage serving a temporary copy of a test service, its route's
 *   handler rewritten, timed from the write until `GET` answers with the new code (median of `--edits`, goal 500 ms).
 * Throughput also reports the CPU the whole process spent per event (all threads), which other load on the machine
 * changes less than wall time.
 * Prints each goal beside its figure, met or not (goals.ts: start-up < 3 s, warming median latency < 20 ms, steady
 * throughput >= half the SDK floor's bound, handler edit < 500 ms), and one JSON line at the end.
 *
 *   node --import tsx shared/local/bench/local-stage.ts [--runs 5] [--requests 200] [--events 2000] [--warm-events 6000] [--steady-events 4000] [--edits 5]
 *   (0 skips a part)
 */
import { spawn } from "node:child_process";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { catalog } from "../../contract/catalog";
import { startLocalStage, type InvocationTrace, type LocalStage, type TraceTree } from "../stage";
import { watchStage } from "../watch";
import { versionHandlerSource, writeWatchedService } from "../test/fixtures/watched-service";
import { checkGoals, goalLines, GOALS } from "./goals";
import { measureSdkFloor } from "./sdk-floor";

const REPO = join(__dirname, "..", "..", "..");
/** The services the latency and throughput parts run: the path they measure, and nothing else subscribed to it. */
const BENCH_SERVICES = ["orders", "billing"];
const CLI = join(__dirname, "..", "cli.ts");

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number (0 skips that part)`);
  return value;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/**
 * CPU the start-ups had used at their ready lines (Linux: /proc), all threads and the stage's own thread: a loaded
 * machine stretches the wall time, much less the CPU time, and the stage's thread is the start-up's critical path.
 */
const startupCpu: { allMs: number; stageThreadMs: number }[] = [];

function cpuAtReady(pid: number | undefined): { allMs: number; stageThreadMs: number } | undefined {
  try {
    // utime and stime, in clock ticks (100 per second on Linux), after the command name in parentheses.
    const ticks = (path: string) => {
      const fields = readFileSync(path, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10;
    };
    return { allMs: ticks(`/proc/${pid}/stat`), stageThreadMs: ticks(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

/** Spawns the CLI and measures the time to its ready line; then stops it with SIGINT. */
function startupOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--port", "0", "--quiet"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let ready: number | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no ready line within 60 s:\n${output}`));
    }, 60_000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (ready === undefined && output.includes("local stage ready")) {
        ready = performance.now() - started;
        const cpu = cpuAtReady(child.pid);
        if (cpu) startupCpu.push(cpu);
        child.kill("SIGINT");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (ready !== undefined && code === 0) resolve(ready);
      else reject(new Error(`the stage exited with ${code} (ready: ${ready !== undefined}):\n${output}`));
    });
  });
}

/** The billing invocation in a tree whose invoice write has been answered, if any. */
function billingInvocation(tree: TraceTree | undefined): { invocation: InvocationTrace; writtenAt: number } | undefined {
  if (!tree) return undefined;
  const invocations: InvocationTrace[] = [];
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== "object") return;
    const n = node as { kind?: string };
    if (n.kind === "invocation") invocations.push(node as InvocationTrace);
    for (const value of Object.values(node)) if (value && typeof value === "object") visit(value);
  };
  visit(tree.roots);
  for (const invocation of invocations) {
    if (invocation.label !== "billing/on-order-placed") continue;
    const write = invocation.writes.find((w) => w.table.split(", ").includes("local-data") && w.result === "ok" && w.keys.some((k) => k.startsWith("$billing#")));
    if (write?.answeredAt !== undefined) return { invocation, writtenAt: write.answeredAt };
  }
  return undefined;
}

/**
 * SDK calls billing's consumer made for one event (DynamoDB writes and SNS publishes), from a settled trace; the
 * relay's are counted in the throughput run instead (see {@link countSnsCalls}).
 */
let consumerCallsPerEvent: number | undefined;
/** What the one-event trace counted for the relay (one Publish per event when it relays one record at a time). */
let relayCallsUnbatched: number | undefined;

/**
 * Waits for the request's tree to settle and counts the SDK calls of its billing invocation (a batch of one), and
 * those of the invocations its writes' stream records started (billing's outbox relay, which publishes
 * billing.invoice-issued for it).
 */
async function countSdkCalls(stage: LocalStage, correlationId: string): Promise<{ consumer: number; relay: number } | undefined> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const tree = stage.trace(correlationId);
    const found = billingInvocation(tree)?.invocation;
    if (tree?.settled && found && found.status !== "running") {
      if (found.messages !== 1 || found.status !== "ok") return undefined;
      const relayed = found.writes.flatMap((w) => (w.streamRecords ?? []).flatMap((r) => r.invocations));
      const calls = (invocation: InvocationTrace) => invocation.writes.length + invocation.publishes.length;
      return { consumer: calls(found), relay: relayed.reduce((sum, invocation) => sum + calls(invocation), 0) };
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return undefined;
}

/**
 * Counts the SNS calls (Publish and PublishBatch alike: one HTTP request each, signed for `sns`) this process's HTTP
 * servers receive until the returned function is called, which gives the count. In the throughput runs only billing's
 * relay calls SNS over HTTP (the bench publishes through the stage itself).
 */
function countSnsCalls(): () => number {
  let count = 0;
  const onRequest = (message: unknown) => {
    const authorization = (message as { request: IncomingMessage }).request.headers.authorization;
    if (authorization?.includes("/sns/aws4_request")) count++;
  };
  subscribe("http.server.request.start", onRequest);
  return () => {
    unsubscribe("http.server.request.start", onRequest);
    return count;
  };
}

const SETTLE_REQUESTS = 300;

async function latency(stage: LocalStage, requests: number): Promise<{ warming: number[]; steady: number[] }> {
  const { orderId: _omitted, ...order } = catalog["orders.order-placed"].example;
  const body = JSON.stringify(order);
  let last: string | undefined;
  const one = async (): Promise<number> => {
    const started = Date.now();
    const response = await fetch(`${stage.url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await response.text();
    if (response.status !== 201) throw new Error(`POST /orders answered ${response.status}`);
    const correlationId = response.headers.get("x-correlation-id")!;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = billingInvocation(stage.trace(correlationId));
      if (found !== undefined) {
        last = correlationId;
        return found.writtenAt - started;
      }
      if (Date.now() > deadline) throw new Error(`no invoice for ${correlationId} within 10 s`);
      // The sample is the stage's own timestamp: looking less often only spares the stage's CPU.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  for (let i = 0; i < 20; i++) await one(); // warm-up: cold starts
  const warming: number[] = [];
  for (let i = 0; i < requests; i++) warming.push(await one());
  for (let i = 0; i < SETTLE_REQUESTS; i++) await one();
  const steady: number[] = [];
  for (let i = 0; i < requests; i++) steady.push(await one());
  if (last) {
    const counted = await countSdkCalls(stage, last);
    consumerCallsPerEvent = counted?.consumer;
    relayCallsUnbatched = counted?.relay;
  }
  return { warming, steady };
}

async function throughput(
  stage: LocalStage,
  events: number,
  prefix: string,
): Promise<{ seconds: number; perSecond: number; cpuMsPerEvent: number; snsCallsPerEvent: number }> {
  const queueArn = stage.sqs.listQueues().find((q) => q.name === "local-billing-on-order-placed")!.arn;
  const published = new Set<string>();
  let handled = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const stopListening = stage.sqs.addTraceListener((event) => {
    // A message is deleted once billing's handler succeeded for it (invoice written, invoice-issued published).
    if (event.kind === "sqs.deleted" && event.queueArn === queueArn && published.has(event.messageId) && ++handled === events) resolveDone();
  });
  const stopSent = stage.sqs.addTraceListener((event) => {
    if (event.kind === "sqs.sent" && event.queueArn === queueArn) published.add(event.messageId);
  });
  const example = catalog["orders.order-placed"].example;
  const snsCalls = countSnsCalls();
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < events; i++) stage.publish("orders.order-placed", { ...example, orderId: `${prefix}-${i}` });
  const timeout = setTimeout(() => resolveDone(), 120_000);
  await done;
  clearTimeout(timeout);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  stopListening();
  stopSent();
  // The relay publishes after billing's handler: its last calls may come after the last message's deletion.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const sns = snsCalls();
  if (handled < events) throw new Error(`only ${handled} of ${events} events were handled within 120 s`);
  return { seconds, perSecond: events / seconds, cpuMsPerEvent: (used.user + used.system) / 1000 / events, snsCallsPerEvent: sns / events };
}

/**
 * Watch mode, from outside: a stage serving a temporary copy of a test service; each run rewrites the route's handler
 * and times from the write until `GET /watched/version` answers with the new version. Also gives the watch's own
 * figure for each edit (its event's duration: from the first file event to the new code loaded in its worker), so
 * what is left (the file event's latency, the request that finds the new code) shows.
 */
/**
 * CPU time in ms used so far by this process (every thread) and its child processes still running (esbuild's
 * service, which does the rebuilds), from Linux's /proc (clock ticks of 10 ms); this process's own elsewhere.
 */
function cpuWithChildren(): number {
  const own = process.cpuUsage();
  let ms = (own.user + own.system) / 1000;
  const pids = (() => {
    try {
      return readdirSync("/proc").filter((name) => /^\d+$/.test(name));
    } catch {
      return [];
    }
  })();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === process.pid) ms += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // gone meanwhile
    }
  }
  return ms;
}

async function handlerEditToServing(edits: number): Promise<{ samples: number[]; watch: number[]; cpu: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-watched-"));
  writeWatchedService(dir, { filterPrefix: "a-" }, "v0");
  const stage = await startLocalStage({ port: 0, serviceDirs: [dir], maxTraces: 100 });
  const swaps: number[] = [];
  const watch = await watchStage(stage, { repoRoot: REPO, onEvent: (event) => event.kind === "function" && swaps.push(event.durationMs) });
  const answer = async () => ((await (await fetch(`${stage.url}/watched/version`)).json()) as { version?: string }).version;
  const samples: number[] = [];
  const cpu: number[] = [];
  try {
    if ((await answer()) !== "v0") throw new Error("the test service does not answer v0");
    for (let i = 1; i <= edits; i++) {
      // Let the previous swap settle (old workers gone) before the next edit.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const started = performance.now();
      const cpuBefore = cpuWithChildren();
      writeFileSync(join(dir, "handlers", "version.ts"), versionHandlerSource(`v${i}`));
      for (;;) {
        if ((await answer()) === `v${i}`) break;
        if (performance.now() - started > 30_000) throw new Error(`the edit to v${i} was not serving after 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      samples.push(performance.now() - started);
      cpu.push(cpuWithChildren() - cpuBefore);
    }
  } finally {
    await watch.close();
    await stage.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { samples, watch: swaps, cpu };
}

async function main(): Promise<void> {
  const runs = option("runs", 5);
  const requests = option("requests", 200);
  const events = option("events", 2000);
  const warmEvents = option("warm-events", 6000);
  const steadyEvents = option("steady-events", 4000);
  const edits = option("edits", 5);

  const startups: number[] = [];
  for (let i = 0; i < runs; i++) startups.push(await startupOnce());
  if (runs) {
    const cpu = startupCpu.length ? ` (CPU at ready, all threads: median ${percentile(startupCpu.map((c) => c.allMs), 50)} ms; the stage's thread: median ${percentile(startupCpu.map((c) => c.stageThreadMs), 50)} ms)` : "";
    console.error(`start-up: ${startups.map((s) => Math.round(s)).join(", ")} ms${cpu}`);
  }

  // The services this bench is about (POST /orders -> billing): other services subscribed to the same events would add
  // their work to every event, while the floor counts billing's SDK calls only.
  const stage = await startLocalStage({
    port: 0,
    serviceDirs: BENCH_SERVICES.map((name) => join(REPO, "services", name)),
    // The traces a stage keeps by default, as `npm start` keeps them (the latency part reads its traces before the
    // throughput part starts).
  });
  let summary: Record<string, unknown>;
  /** SNS calls per event of the last throughput run (the relay's). */
  let relayCallsPerEvent: number | undefined;
  try {
    const samples = requests ? await latency(stage, requests) : { warming: [], steady: [] };
    if (requests) {
      console.error(`latency, warming: median ${percentile(samples.warming, 50)} ms, p99 ${percentile(samples.warming, 99)} ms over ${requests} requests after 20`);
      console.error(`latency, steady: median ${percentile(samples.steady, 50)} ms, p99 ${percentile(samples.steady, 99)} ms over ${requests} requests after ${20 + requests + SETTLE_REQUESTS}`);
    }
    const cold = events ? await throughput(stage, events, "bench") : undefined;
    if (cold) console.error(`throughput: ${events} events in ${cold.seconds.toFixed(2)} s = ${Math.round(cold.perSecond)} events/s, ${cold.cpuMsPerEvent.toFixed(2)} ms CPU per event`);
    const warm = warmEvents ? await throughput(stage, warmEvents, "warm") : undefined;
    if (warm) console.error(`throughput, warming every worker's JIT: ${warmEvents} more events in ${warm.seconds.toFixed(2)} s = ${Math.round(warm.perSecond)} events/s, ${warm.cpuMsPerEvent.toFixed(2)} ms CPU per event`);
    const steady = steadyEvents ? await throughput(stage, steadyEvents, "steady") : undefined;
    relayCallsPerEvent = (steady ?? warm ?? cold)?.snsCallsPerEvent;
    if (steady) {
      console.error(`throughput, steady: ${steadyEvents} more events in ${steady.seconds.toFixed(2)} s = ${Math.round(steady.perSecond)} events/s, ${steady.cpuMsPerEvent.toFixed(2)} ms CPU per event`);
    }
    summary = {
      startupMs: runs ? { median: Math.round(percentile(startups, 50)), runs: startups.map(Math.round), goal: GOALS.startupMs } : null,
      startupCpuMs: startupCpu.length ? { allThreads: percentile(startupCpu.map((c) => c.allMs), 50), stageThread: percentile(startupCpu.map((c) => c.stageThreadMs), 50) } : null,
      latencyMs: requests
        ? {
            median: percentile(samples.warming, 50),
            p99: percentile(samples.warming, 99),
            requests,
            steady: { median: percentile(samples.steady, 50), p99: percentile(samples.steady, 99), requests, after: 20 + requests + SETTLE_REQUESTS },
            goalMedian: GOALS.warmingLatencyMs,
          }
        : null,
      throughput:
        cold || steady
          ? {
              ...(cold ? { events, seconds: round(cold.seconds, 2), perSecond: Math.round(cold.perSecond), cpuMsPerEvent: round(cold.cpuMsPerEvent, 2) } : {}),
              ...(steady
                ? { steady: { events: steadyEvents, after: events + warmEvents, seconds: round(steady.seconds, 2), perSecond: Math.round(steady.perSecond), cpuMsPerEvent: round(steady.cpuMsPerEvent, 2) } }
                : {}),
              goalShareOfFloor: GOALS.shareOfFloor,
            }
          : null,
    };
  } finally {
    await stage.stop();
  }
  if (edits) {
    const { samples, watch, cpu } = await handlerEditToServing(edits);
    console.error(`handler edit to new code serving: ${samples.map(Math.round).join(", ")} ms (the watch's own, first file event to new code loaded: ${watch.map(Math.round).join(", ")} ms)`);
    console.error(`handler edit, CPU from the write to serving (this process's threads and esbuild's service, polling included): ${cpu.map(Math.round).join(", ")} ms`);
    summary.handlerEditMs = {
      median: Math.round(percentile(samples, 50)),
      runs: samples.map(Math.round),
      watchMedian: Math.round(percentile(watch, 50)),
      cpuMedian: Math.round(percentile(cpu, 50)),
      goal: 500,
    };
  }
  if (events || steadyEvents) {
    // Measured with the stage stopped, so the floor has the machine to itself.
    const floors = [await measureSdkFloor(), await measureSdkFloor(), await measureSdkFloor()];
    const floor = [...floors].sort((a, b) => a.cpuMs - b.cpuMs)[1]!;
    // Billing's consumer: its calls for one event (3 when there was no latency sample to count them: the lock's
    // conditional put, the invoice and outbox item's transaction, the lock's completion). Its relay: the SNS calls
    // it made per event in the last throughput run (one Publish per event when it relays one record at a time).
    const consumerCalls = consumerCallsPerEvent ?? 3;
    const relayCalls = relayCallsPerEvent ?? relayCallsUnbatched ?? 1;
    const calls = consumerCalls + relayCalls;
    const ceiling = (availableParallelism() * 1000) / (calls * floor.cpuMs);
    console.error(
      `floor: one SDK call costs ${floor.cpuMs.toFixed(2)} ms of CPU (${floor.wallMs.toFixed(2)} ms wall) against a server that answers at once (median of ${floors.map((f) => f.cpuMs.toFixed(2)).join(", ")}); ` +
        `billing makes ${calls.toFixed(2)} per event (its consumer ${consumerCalls}${consumerCallsPerEvent === undefined ? ", assumed: no latency sample" : ""}; ` +
        `its relay ${relayCalls.toFixed(2)}${relayCallsPerEvent === undefined ? "" : " SNS calls per event in the last throughput run"}${relayCallsUnbatched === undefined ? "" : `, ${relayCallsUnbatched} for one event alone`}), ` +
        `so ${availableParallelism()} cores pass at most ${Math.round(ceiling)} events/s`,
    );
    summary.sdkFloor = {
      cpuMsPerCall: round(floor.cpuMs, 3),
      runs: floors.map((f) => round(f.cpuMs, 3)),
      wallMsPerCall: round(floor.wallMs, 3),
      callsPerEvent: round(calls, 2),
      consumerCallsPerEvent: consumerCalls,
      relayCallsPerEvent: round(relayCalls, 3),
      ceilingPerSecond: Math.round(ceiling),
    };
    const measured = (summary.throughput ?? {}) as { perSecond?: number; cpuMsPerEvent?: number; steady?: { perSecond: number; cpuMsPerEvent: number } };
    const last = measured.steady ?? measured;
    if (last.perSecond !== undefined && last.cpuMsPerEvent !== undefined) {
      // Throughput's share of the bound, and the same in CPU: the floor's CPU per event over the stage's.
      (summary.throughput as Record<string, unknown>).shareOfFloor = round(last.perSecond / ceiling, 2);
      (summary.throughput as Record<string, unknown>).cpuShareOfFloor = round((calls * floor.cpuMs) / last.cpuMsPerEvent, 2);
      console.error(
        `share of the floor: ${(last.perSecond / ceiling).toFixed(2)} in events/s; in CPU per event ${((calls * floor.cpuMs) / last.cpuMsPerEvent).toFixed(2)} ` +
          `(${(calls * floor.cpuMs).toFixed(2)} ms of SDK floor in ${last.cpuMsPerEvent.toFixed(2)} ms)`,
      );
    }
  }
  const figure = (key: string, field: string): number | undefined => {
    const value = (summary[key] as Record<string, unknown> | null | undefined)?.[field];
    return typeof value === "number" ? value : undefined;
  };
  const throughputFigures = (summary.throughput ?? {}) as { perSecond?: number; steady?: { perSecond: number } };
  const goals = checkGoals({
    startupMs: figure("startupMs", "median"),
    warmingLatencyMs: figure("latencyMs", "median"),
    throughputPerSecond: throughputFigures.steady?.perSecond ?? throughputFigures.perSecond,
    floorPerSecond: figure("sdkFloor", "ceilingPerSecond"),
    handlerEditMs: figure("handlerEditMs", "median"),
  });
  if (goals.length) console.error(["goals:", ...goalLines(goals).map((line) => `  ${line}`)].join("\n"));
  summary.goals = Object.fromEntries(goals.map((g) => [g.name, { figure: g.figure, goal: g.goal, met: g.met }]));
  console.log(JSON.stringify({ bench: "local-stage", cores: availableParallelism(), node: process.version, ...summary }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
