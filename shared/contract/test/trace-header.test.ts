// The one grammar of the trace headers (shared/contract/trace-header.ts): W3C traceparent and the X-Ray trace
// header, as the runtime and the local stage read and write them.
//
//   node --import tsx shared/contract/test/trace-header.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as z from "zod/mini";
import { envelopeSchema } from "../envelope";
import {
  formatTraceparent,
  formatXRayTraceHeader,
  isSpanId,
  isTraceId,
  parseTraceparent,
  parseXRayTraceHeader,
  TRACEPARENT_SHAPE,
  xrayTraceIdAt,
} from "../trace-header";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";

test("traceparent: version 00 read and written back", () => {
  const value = `00-${TRACE}-${SPAN}-01`;
  assert.equal(parseTraceparent(value), { traceId: TRACE, parentId: SPAN, flags: 1 });
  assert.is(formatTraceparent({ traceId: TRACE, parentId: SPAN, flags: 0 }), `00-${TRACE}-${SPAN}-00`);
  assert.is(formatTraceparent(parseTraceparent(value)!), value);
  assert.equal(parseTraceparent(`  ${value} `)?.traceId, TRACE, "surrounding whitespace is not part of the value");
});

test("traceparent: invalid values give no context (the receiver starts a new trace)", () => {
  for (const value of [
    undefined,
    null,
    "",
    `ff-${TRACE}-${SPAN}-01`, // version ff is forbidden
    `00-${"0".repeat(32)}-${SPAN}-01`, // all-zero trace id
    `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero parent id
    `00-${TRACE.toUpperCase()}-${SPAN}-01`, // hex is lowercase
    `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
    `00-${TRACE.slice(1)}-${SPAN}-01`,
    `00_${TRACE}_${SPAN}_01`,
  ]) {
    assert.is(parseTraceparent(value), undefined, String(value));
  }
});

test("traceparent: a higher version is read by its first four fields (W3C's rule for unknown versions)", () => {
  // disagreed: the runtime refused any traceparent with more than four fields, whatever the version. The spec's
  // rule: a version it does not know is parsed as 00 when what follows the flags starts with "-".
  assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`), { traceId: TRACE, parentId: SPAN, flags: 1 });
  assert.equal(parseTraceparent(`cc-${TRACE}-${SPAN}-00`), { traceId: TRACE, parentId: SPAN, flags: 0 });
  assert.is(parseTraceparent(`01-${TRACE}-${SPAN}-01x`), undefined);
});

test("the envelope's traceparent field takes the shape; an invalid trace in it is ignored, not a broken message", () => {
  assert.ok(TRACEPARENT_SHAPE.test(`00-${TRACE}-${SPAN}-01`));
  const envelope = { specversion: "1.0", id: "e", source: "s", type: "t", time: "2026-01-01T00:00:00Z", datacontenttype: "application/json", correlationid: "c", data: {} };
  assert.ok(z.safeParse(envelopeSchema, { ...envelope, traceparent: `00-${"0".repeat(32)}-${SPAN}-01` }).success);
  assert.not.ok(z.safeParse(envelopeSchema, { ...envelope, traceparent: "not a traceparent" }).success);
  assert.is(parseTraceparent(`00-${"0".repeat(32)}-${SPAN}-01`), undefined);
});

test("X-Ray: Root, Parent and Sampled, in any order, other fields ignored", () => {
  const header = `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${SPAN};Sampled=1`;
  assert.equal(parseXRayTraceHeader(header), { root: "1-5759e988-bd862e3fe1be46a994272793", traceId: "5759e988bd862e3fe1be46a994272793", parent: SPAN, sampled: true });
  assert.equal(parseXRayTraceHeader(`Sampled=0; Lineage=a87bd80c:1|68fd508a:5 ;Root=1-5759e988-bd862e3fe1be46a994272793`), {
    root: "1-5759e988-bd862e3fe1be46a994272793",
    traceId: "5759e988bd862e3fe1be46a994272793",
    sampled: false,
  });
  assert.is(parseXRayTraceHeader("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?")?.sampled, undefined, "? is not decided yet");
  assert.is(parseXRayTraceHeader(`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${"0".repeat(16)}`)?.parent, undefined);
  assert.is(parseXRayTraceHeader("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz")?.parent, undefined);
});

test("X-Ray: a header without a valid Root gives nothing", () => {
  // disagreed: the runtime's log field (xrayTraceId) took any Root text, its traceparent conversion only a valid
  // one. Only a valid one, everywhere.
  for (const header of [undefined, "", "Parent=b7ad6b7169203331", "Root=abc", "Root=2-5759e988-bd862e3fe1be46a994272793", "Root=1-5759E988-bd862e3fe1be46a994272793", `Root=1-00000000-${"0".repeat(24)}`]) {
    assert.is(parseXRayTraceHeader(header), undefined, String(header));
  }
});

test("X-Ray: written as AWS writes it, and read back", () => {
  assert.is(formatXRayTraceHeader({ traceId: "5759e988bd862e3fe1be46a994272793" }), "Root=1-5759e988-bd862e3fe1be46a994272793");
  const full = formatXRayTraceHeader({ traceId: "5759e988bd862e3fe1be46a994272793", parent: SPAN, sampled: true });
  assert.is(full, `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${SPAN};Sampled=1`);
  assert.equal(parseXRayTraceHeader(full)?.parent, SPAN);
  assert.throws(() => formatXRayTraceHeader({ traceId: "nope" }), /not a trace id/);
  assert.throws(() => formatXRayTraceHeader({ traceId: TRACE, parent: "0".repeat(16) }), /not a span id/);
  // the first 8 hex digits are the epoch seconds
  assert.is(xrayTraceIdAt(0x5759e988 * 1000 + 999, "bd862e3fe1be46a994272793"), "5759e988bd862e3fe1be46a994272793");
  assert.ok(isTraceId(xrayTraceIdAt(Date.now(), "bd862e3fe1be46a994272793")));
  assert.ok(isSpanId(SPAN));
  assert.not.ok(isSpanId(SPAN.toUpperCase()));
});

test.run();
