import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runFromArgs } from "../run";
import { copyRepo, npmRun, treeHashes, unknownEventType, unusedServiceName } from "./helpers";

const root = copyRepo("generators-bad-");
const before = treeHashes(root);
// Names free in this repository (a user's may have a `shipping` service or an `orders.order-shipped` event).
const name = unusedServiceName(root, "shipping");
const unknownEvent = unknownEventType(root, "orders", "order-shipped");
const re = (text: string) => new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
/** The service folders of the copy (with a Pulumi.yaml), as the generators list them. */
const services = () => readdirSync(join(root, "services")).filter((d) => existsSync(join(root, "services", d, "Pulumi.yaml"))).sort();

async function refused(generator: string, args: string[], message: RegExp): Promise<void> {
  try {
    await runFromArgs(generator, [...args, "--root", root], { interactive: false });
  } catch (err) {
    assert.match((err as Error).message, message);
    assert.equal(treeHashes(root), before, `nothing written for ${args.join(" ")}`);
    return;
  }
  assert.unreachable(`${generator} ${args.join(" ")} was accepted`);
}

const service = ["--purpose", "p", "--team", "t", "--entity", "thing", "--consumes", "orders.order-placed"];

test("service names must be kebab-case, short, not reserved, without path parts", async () => {
  await refused("service", ["--name", "Billing", ...service], /service name "Billing" \(--name\) is not kebab-case/);
  await refused("service", ["--name", "billing_v2", ...service], /not kebab-case/);
  await refused("service", ["--name", "a-very-long-service-name-indeed", ...service], /is 31 characters long; at most 24/);
  await refused("service", ["--name", "platform", ...service], /service name "platform" \(--name\) is reserved/);
  await refused("service", ["--name", "../evil", ...service], /contains a path separator/);
  await refused("service", ["--name", "a..b", ...service], /contains "\.\."/);
  await refused("service", ["--name", "", ...service], /service name is empty \(--name\)/);
});

test("unknown events, events of another owner, existing services are refused", async () => {
  await refused("service", ["--name", name, ...service.slice(0, 6), "--consumes", unknownEvent], re(`unknown event "${unknownEvent}" (--consumes)`));
  await refused("service", ["--name", name, ...service, "--publishes", "billing.invoice-issued"], /event "billing\.invoice-issued" \(--publishes\) is owned by "billing"; an event has exactly one owner/);
  await refused("service", ["--name", name, ...service, "--publishes", "Shipping.Sent"], /must be <domain>\.<event> in kebab-case/);
  await refused("service", ["--name", "orders", ...service], /services\/orders already exists; nothing was written/);
  await refused("event", ["--type", "orders.order-placed", "--owner", name, "--description", "d"], /event "orders\.order-placed" already exists \(owned by "orders"\)/);
  await refused("event", ["--type", `${name}.parcel-sent`, "--owner", name, "--description", "d", "--fifo"], /a FIFO event needs --group-field/);
  await refused("event", ["--type", `${name}.parcel-sent`, "--owner", name, "--description", "d", "--fields", "parcel id:string"], /field "parcel id:string" \(--fields\) needs a camelCase name/);
});

test("edits of existing services check the service, the entity and what already exists", async () => {
  const listed = services();
  assert.ok(listed.includes("billing") && listed.includes("orders"), listed.join(", "));
  await refused("consumer", ["--service", "nope", "--event", "orders.order-placed", "--entity", "invoice"], re(`no service "nope" (--service); services: ${listed.join(", ")}`));
  await refused("consumer", ["--service", "billing", "--event", "orders.order-placed", "--entity", "invoice"], /billing already consumes orders\.order-placed/);
  await refused("consumer", ["--service", "billing", "--event", "orders.order-status-changed", "--entity", "refund"], /entities\/refund\.ts does not exist \(--entity\)/);
  await refused("entity", ["--service", "billing", "--entity", "invoice"], /services\/billing\/entities\/invoice\.ts already exists/);
  await refused("route", ["--service", "orders", "--path", "/orders", "--entity", "order"], /orders already has the route POST \/orders/);
  await refused("route", ["--service", "orders", "--path", "/../x", "--entity", "order"], /path "\/\.\.\/x" \(--path\) must look like/);
  await refused("route", ["--service", "orders", "--path", "/refunds", "--entity", "order", "--publishes", "billing.invoice-issued"], /owned by "billing", not orders/);
});

test("flags: unknown ones and missing answers without a terminal name the flag", async () => {
  await refused("service", ["--name", name, "--colour", "blue"], /unknown flag --colour for service/);
  await refused("service", ["--consumes", "orders.order-placed"], /missing --name \(Service name \(kebab-case\)\); without a terminal/);
  await refused("consumer", ["--service", "billing"], /missing --event \(Event to consume\), --entity/);
  await refused("service", ["--name", name, ...service, "--http", "maybe"], /--http takes yes or no/);
  await refused("nonsense", [], /no generator "nonsense"; generators: service, event, consumer, entity, route/);
});

test("a write that fails halfway leaves the tree as it was", async () => {
  // The plan writes the new service's files, then the catalog (a new event). A folder squatting on the catalog's
  // temporary file makes that last write fail after the others were written: all of them must be undone.
  const squatter = join(root, "shared", "contract", `catalog.ts.${process.pid}.tmp`);
  mkdirSync(squatter);
  const snapshot = treeHashes(root);
  try {
    await runFromArgs("service", ["--name", name, ...service, "--publishes", `${name}.parcel-sent`, "--root", root], {
      interactive: false,
    }).then(
      () => assert.unreachable("accepted"),
      (err: Error) => assert.match(err.message, /writing failed, nothing was changed: EISDIR/),
    );
    assert.equal(treeHashes(root), snapshot);
    assert.not.ok(existsSync(join(root, "services", name)), "the service folder it created is gone");
  } finally {
    rmSync(squatter, { recursive: true });
  }
});

test("the npm script exits non-zero with the message and no stack trace", () => {
  const result = npmRun(root, "new-service", ["--name", "Shipping", ...service]);
  assert.is(result.code, 1);
  assert.match(result.stderr, /^error: service name "Shipping" \(--name\) is not kebab-case/m);
  assert.not.match(result.stderr, /\n\s+at /, "no stack trace");
  assert.equal(treeHashes(root), before);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();
