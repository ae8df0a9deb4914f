// The request context on its own: spans under their parents, X-Ray headers read with the runtime's grammar and
// written so the next hop is a child.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { childContext, contextFromHeader, parentSpanOf, rootContext, traceHeaderOf } from "../context";

test("a child keeps the trace and names its parent's span; the header makes the next hop a child again", () => {
  const root = rootContext("local", "c-1");
  assert.match(root.traceId, /^[0-9a-f]{32}$/);
  assert.match(root.spanId, /^[0-9a-f]{16}$/);
  assert.is(root.parentSpanId, undefined);
  const delivery = childContext(root, "sns.amazonaws.com");
  assert.equal(
    { principal: delivery.principal, traceId: delivery.traceId, parent: delivery.parentSpanId, correlation: delivery.correlationId },
    { principal: "sns.amazonaws.com", traceId: root.traceId, parent: root.spanId, correlation: "c-1" },
  );
  assert.is.not(delivery.spanId, root.spanId);
  const header = traceHeaderOf(delivery);
  assert.is(header, `Root=1-${root.traceId.slice(0, 8)}-${root.traceId.slice(8)};Parent=${delivery.spanId};Sampled=1`);
  assert.is(parentSpanOf(header), delivery.spanId);
  const next = contextFromHeader(header, "lambda");
  assert.equal({ traceId: next.traceId, parent: next.parentSpanId, header: next.traceHeader }, { traceId: root.traceId, parent: delivery.spanId, header });
});

test("a header without a trace starts a new one; ids do not repeat", () => {
  for (const header of [undefined, "", "Root=nonsense", "Self=1-abc"]) {
    const context = contextFromHeader(header, "AKIATOOL");
    assert.is(context.principal, "AKIATOOL");
    assert.is(context.parentSpanId, undefined, String(header));
    assert.match(context.traceId, /^[0-9a-f]{32}$/);
  }
  const ids = new Set(Array.from({ length: 5000 }, () => rootContext("x").spanId));
  assert.is(ids.size, 5000);
});

test.run();
