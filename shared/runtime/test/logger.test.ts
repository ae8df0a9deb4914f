import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENV } from "../../contract";
import { runInScope } from "../invocation-scope";
import { createLogger } from "../logger";

function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: Record<string, any>[] = [];
  const log = createLogger({ ...options, write: (line) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

test.before.each(() => {
  process.env[ENV.service] = "billing";
  process.env[ENV.stage] = "test";
  process.env[ENV.handler] = "issue-invoice";
  delete process.env[ENV.logLevel];
  delete process.env._X_AMZN_TRACE_ID;
});

test("a line is one JSON object with the function's identity", () => {
  const { log, lines } = capture();
  log.info("hello", { orderId: "o-1" });
  assert.is(lines.length, 1);
  const [line] = lines;
  assert.is(line!.level, "INFO");
  assert.is(line!.message, "hello");
  assert.is(line!.service, "billing");
  assert.is(line!.stage, "test");
  assert.is(line!.function, "issue-invoice");
  assert.is(line!.orderId, "o-1");
  assert.ok(!Number.isNaN(Date.parse(line!.timestamp)));
  assert.not.ok("correlationId" in line!, "no scope, no correlation id");
});

test("inside a scope, lines carry correlation id, event id and type, trace context", () => {
  process.env._X_AMZN_TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  const { log, lines } = capture();
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  runInScope(
    { correlationId: "corr-1", traceparent, eventId: "evt-1", eventType: "orders.order-placed", requestId: "req-1", sequence: new Map() },
    () => log.warn("inside"),
  );
  assert.equal(
    { ...lines[0], timestamp: undefined },
    {
      level: "WARN",
      message: "inside",
      timestamp: undefined,
      service: "billing",
      stage: "test",
      function: "issue-invoice",
      correlationId: "corr-1",
      eventId: "evt-1",
      eventType: "orders.order-placed",
      traceparent,
      xrayTraceId: "1-5759e988-bd862e3fe1be46a994272793",
      requestId: "req-1",
    },
  );
});

test("a scope's lines keep the identity read at its first line; the next scope, and lines outside one, read it again", () => {
  const { log, lines } = capture();
  const scope = (eventId: string) => ({ correlationId: `corr-${eventId}`, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", eventId, sequence: new Map() });
  const first = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  const second = "Root=1-66705bc7-2b4257df30cbee696ef2cf28;Parent=53995c3f42cd8ad8;Sampled=1";
  process.env._X_AMZN_TRACE_ID = first;
  runInScope(scope("evt-1"), () => {
    log.info("one");
    process.env[ENV.service] = "payments";
    process.env._X_AMZN_TRACE_ID = second;
    log.info("two");
  });
  runInScope(scope("evt-2"), () => log.info("three"));
  log.info("four");
  process.env[ENV.stage] = "prod";
  log.info("five");
  const seen = lines.map((l) => [l.message, l.eventId, l.service, l.stage, l.xrayTraceId]);
  assert.equal(seen, [
    ["one", "evt-1", "billing", "test", "1-5759e988-bd862e3fe1be46a994272793"],
    ["two", "evt-1", "billing", "test", "1-5759e988-bd862e3fe1be46a994272793"],
    ["three", "evt-2", "payments", "test", "1-66705bc7-2b4257df30cbee696ef2cf28"],
    ["four", undefined, "payments", "test", "1-66705bc7-2b4257df30cbee696ef2cf28"],
    ["five", undefined, "payments", "prod", "1-66705bc7-2b4257df30cbee696ef2cf28"],
  ]);
});

test("the level is read on every line, inside a scope too", () => {
  const { log, lines } = capture();
  runInScope({ correlationId: "c", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", sequence: new Map() }, () => {
    log.debug("hidden");
    process.env[ENV.logLevel] = "debug";
    log.debug("shown");
    process.env[ENV.logLevel] = "ERROR";
    log.warn("hidden");
    process.env[ENV.logLevel] = "debug";
    log.debug("shown again");
  });
  assert.equal(lines.map((l) => l.message), ["shown", "shown again"]);
});

test("the level comes from the environment, INFO by default", () => {
  const { log, lines } = capture();
  log.debug("hidden");
  log.info("shown");
  process.env[ENV.logLevel] = "warn";
  log.info("hidden");
  log.error("shown");
  process.env[ENV.logLevel] = "DEBUG";
  log.debug("shown");
  process.env[ENV.logLevel] = "LOUD";
  log.debug("hidden: unknown levels mean INFO");
  assert.equal(lines.map((l) => l.level), ["INFO", "ERROR", "DEBUG"]);
});

test("errors are written with name, message, stack and cause", () => {
  const { log, lines } = capture();
  const cause = new Error("socket hang up");
  log.error("failed", { error: new TypeError("boom", { cause }) });
  const error = lines[0]!.error;
  assert.is(error.name, "TypeError");
  assert.is(error.message, "boom");
  assert.match(error.stack, /TypeError: boom/);
  assert.is(error.cause.message, "socket hang up");
});

test("child loggers add fields; unserializable fields do not lose the line", () => {
  const { log, lines } = capture({ level: "DEBUG" });
  log.child({ component: "x" }).debug("one", { n: 1n });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  log.info("two", { circular });
  assert.is(lines[0]!.component, "x");
  assert.is(lines[0]!.n, "1");
  assert.is(lines[1]!.message, "two");
  assert.match(lines[1]!.logError, /could not be serialized/);
});

test("errors and bigints deep in fields, or behind toJSON, are written as at the top", () => {
  const { log, lines } = capture();
  const base: Record<string, unknown> = { context: { attempts: [1] } };
  const child = log.child(base);
  child.info("plain", { batch: { ids: ["a", "b"], size: 2 } });
  (base.context as { attempts: unknown[] }).attempts.push(new Error("late"));
  log.child({ context: base.context }).info("nested", {
    deep: { list: [{ id: 7n }] },
    wrapped: { toJSON: () => new RangeError("from toJSON") },
  });
  assert.equal(lines[0]!.batch, { ids: ["a", "b"], size: 2 });
  assert.is(lines[1]!.context.attempts[1].message, "late");
  assert.is(lines[1]!.deep.list[0].id, "7");
  assert.is(lines[1]!.wrapped.name, "RangeError");
  assert.is(lines[1]!.wrapped.message, "from toJSON");
});

test.run();
