// How two versions of one event travel while consumers move: every event carries its version (the envelope's
// `dataversion` and the message attribute of the same name), a consumer declares the versions it reads, and its
// subscription receives only those while the catalog publishes others.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract/catalog";
import { ConsumerConfigError, consumerVersions, withVersionFilter } from "../../infra/event-consumer";
import { matchesFilterPolicy, type FilterableAttribute } from "../../local/sns/filter-policy";
import { createEvent, parseEvent } from "../../runtime/envelope";
import { InvalidEventError } from "../../runtime/errors";
import { messageAttributes } from "../../runtime/sns-publish";

const label = "consumer billing/on-order-placed";

test("a consumer reads the current version unless it declares others", () => {
  assert.equal(consumerVersions(label, "orders.order-placed", undefined), [catalog["orders.order-placed"].version]);
  assert.equal(consumerVersions(label, "orders.order-placed", [2, 1, 2], [1, 2], 2), [1, 2]);
});

test("a consumer that reads a version the catalog no longer publishes fails, naming the event, the consumer and the versions", () => {
  // orders.order-placed moved to version 2 and retired 1, while billing still reads 1.
  const error = (() => {
    try {
      consumerVersions(label, "orders.order-placed", [1], [2], 2);
    } catch (e) {
      return e as Error;
    }
    return undefined;
  })();
  assert.instance(error, ConsumerConfigError);
  assert.match(error!.message, "consumer billing/on-order-placed reads orders.order-placed version 1, but the catalog publishes version 2 of it");
  assert.match(error!.message, "previousVersions");
  // The real catalog publishes version 1 only: declaring 2 fails the same way.
  assert.throws(() => consumerVersions(label, "orders.order-placed", [2]), /reads orders\.order-placed version 2, but the catalog publishes version 1/);
});

test("while two versions are published, a consumer of one receives only its own (message attributes or body)", () => {
  const envelope = (version: number) => ({ ...createEvent("orders.order-placed", catalog["orders.order-placed"].example, { source: "orders" }), dataversion: version });
  const attributes = (version: number) => messageAttributes(envelope(version), version) as Record<string, FilterableAttribute>;

  const onlyOne = withVersionFilter(undefined, [1], [1, 2])!;
  assert.equal(onlyOne, { scope: "MessageAttributes", policy: { dataversion: [{ numeric: ["=", 1] }] } });
  assert.ok(matchesFilterPolicy(onlyOne.policy, { Message: JSON.stringify(envelope(1)), MessageAttributes: attributes(1) }));
  assert.not.ok(matchesFilterPolicy(onlyOne.policy, { Message: JSON.stringify(envelope(2)), MessageAttributes: attributes(2) }));

  // A body filter keeps its scope and gets the envelope's dataversion.
  const body = withVersionFilter({ scope: "MessageBody", policy: { data: { total: { currency: ["EUR"] } } } }, [2], [1, 2])!;
  assert.equal(body.policy, { data: { total: { currency: ["EUR"] } }, dataversion: [{ numeric: ["=", 2] }] });
  assert.ok(matchesFilterPolicy(body.policy, { Message: JSON.stringify(envelope(2)) }, "MessageBody"));
  assert.not.ok(matchesFilterPolicy(body.policy, { Message: JSON.stringify(envelope(1)) }, "MessageBody"));

  // A consumer of every published version, or of the only one, keeps its filter as it is.
  assert.is(withVersionFilter(undefined, [1, 2], [1, 2]), undefined);
  assert.is(withVersionFilter(undefined, [1], [1]), undefined);
});

test("events carry their version; a received version the catalog does not publish is an invalid event naming it", () => {
  const event = createEvent("orders.order-placed", catalog["orders.order-placed"].example, { source: "orders" });
  assert.is(event.dataversion, 1);
  assert.is(parseEvent(JSON.stringify(event)).dataversion, 1);
  // Published before envelopes carried it: the current version.
  const { dataversion: _, ...older } = event;
  assert.is(parseEvent(JSON.stringify(older)).dataversion, 1);
  assert.throws(() => parseEvent(JSON.stringify({ ...event, dataversion: 3 })), (e: unknown) => e instanceof InvalidEventError && /orders\.order-placed version 3 is not published/.test((e as Error).message));
  assert.throws(() => createEvent("orders.order-placed", catalog["orders.order-placed"].example as never, { source: "orders", version: 3 as never }), /version 3 is not published/);
});

test.run();
