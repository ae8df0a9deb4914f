import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  childTraceparent,
  formatTraceparent,
  newTraceparent,
  parseTraceparent,
  traceparentFromXRay,
  xrayTraceId,
} from "../trace-context";

const W3C_EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

test("parses the W3C example and writes it back unchanged", () => {
  const context = parseTraceparent(W3C_EXAMPLE);
  assert.equal(context, { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentId: "00f067aa0ba902b7", flags: 1 });
  assert.is(formatTraceparent(context!), W3C_EXAMPLE);
});

test("rejects malformed values, version ff and all-zero ids", () => {
  for (const bad of [
    undefined,
    "",
    "garbage",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
  ]) {
    assert.is(parseTraceparent(bad), undefined, String(bad));
  }
});

test("a child keeps trace id and flags and gets a new span id", () => {
  const child = parseTraceparent(childTraceparent(W3C_EXAMPLE))!;
  assert.is(child.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.is(child.flags, 1);
  assert.is.not(child.parentId, "00f067aa0ba902b7");
  assert.is.not(childTraceparent(W3C_EXAMPLE), childTraceparent(W3C_EXAMPLE));
});

test("span and trace ids stay distinct and valid across many draws (more than one fill of the random pool)", () => {
  const spans = new Set<string>();
  const traces = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const child = parseTraceparent(childTraceparent(W3C_EXAMPLE))!;
    assert.ok(child, "a child is a valid traceparent");
    spans.add(child.parentId);
    const fresh = parseTraceparent(newTraceparent())!;
    assert.ok(fresh);
    traces.add(fresh.traceId);
    spans.add(fresh.parentId);
  }
  assert.is(spans.size, 4000);
  assert.is(traces.size, 2000);
});

test("without a valid parent a child starts a new sampled trace", () => {
  const fresh = parseTraceparent(childTraceparent("nonsense"))!;
  assert.ok(fresh);
  assert.is.not(fresh.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.is(fresh.flags, 1);
  assert.is(parseTraceparent(newTraceparent(false))!.flags, 0);
});

test("an X-Ray header becomes a traceparent with the same trace id", () => {
  assert.is(
    traceparentFromXRay("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
    "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
  );
  // The header API Gateway adds (fixture apigw-http-v2.json) has no Parent: a span id is made up.
  const fromApi = parseTraceparent(traceparentFromXRay("Root=1-66705bc7-2b4257df30cbee696ef2cf28"))!;
  assert.is(fromApi.traceId, "66705bc72b4257df30cbee696ef2cf28");
  assert.is(traceparentFromXRay("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")!.endsWith("-00"), true);
  assert.is(traceparentFromXRay("Root=nonsense"), undefined);
  assert.is(traceparentFromXRay(undefined), undefined);
});

test("reads the invocation's X-Ray trace id from _X_AMZN_TRACE_ID", () => {
  process.env._X_AMZN_TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  assert.is(xrayTraceId(), "1-5759e988-bd862e3fe1be46a994272793");
  assert.is(xrayTraceId(), "1-5759e988-bd862e3fe1be46a994272793");
  // The next invocation's header, then a malformed one: each read follows the variable.
  process.env._X_AMZN_TRACE_ID = "Root=1-6759e988-cd862e3fe1be46a994272794;Sampled=0";
  assert.is(xrayTraceId(), "1-6759e988-cd862e3fe1be46a994272794");
  process.env._X_AMZN_TRACE_ID = "Parent=53995c3f42cd8ad8";
  assert.is(xrayTraceId(), undefined);
  delete process.env._X_AMZN_TRACE_ID;
  assert.is(xrayTraceId(), undefined);
});

test.run();
