import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { arnTarget, describeFilter, DIAGRAM_PATH, flowGraph, layoutFlow, renderFlowSvg } from "../diagram";
import { diagramEventTypes, generateFlowDiagram, readCommittedDiagram } from "../diagram-system";
import { REPO_ROOT } from "../system";

const committed = readCommittedDiagram(REPO_ROOT);

// Registered first: no layout has run yet in this process.
test("elkjs is loaded by the first layout, not by importing the module (the local stage imports it for its console)", async () => {
  const elkLoaded = () => Object.keys(require.cache).some((path) => path.includes("elk.bundled"));
  assert.not.ok(elkLoaded(), "elkjs loaded on import");
  await layoutFlow(flowGraph([], { stage: "local" }));
  assert.ok(elkLoaded());
});

test("the README shows the committed flow diagram", () => {
  assert.ok(committed, `${DIAGRAM_PATH} is missing: run \`npm run catalog\` and commit it`);
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  assert.match(readme, `](${DIAGRAM_PATH})`, `README.md does not show ${DIAGRAM_PATH}`);
});

test("the README's flow diagram is up to date with the programs", async () => {
  const svg = await generateFlowDiagram(REPO_ROOT);
  if (svg !== committed) {
    const current = svg.split("\n");
    const old = committed?.split("\n") ?? [];
    const line = current.findIndex((value, index) => value !== old[index]);
    assert.unreachable(
      `${DIAGRAM_PATH} (the README's flow diagram) is out of date: run \`npm run catalog\` and commit it (first difference at line ${line + 1}: ` +
        `${JSON.stringify((old[line] ?? "").slice(0, 160))} should be ${JSON.stringify((current[line] ?? "").slice(0, 160))})`,
    );
  }
  // Deterministic: the same programs give the same bytes.
  assert.is(await generateFlowDiagram(REPO_ROOT), svg);
});

test("the diagram shows the example wiring: route -> function -> topic -> queue -> function, with a legend", () => {
  const svg = committed!;
  for (const id of [
    "route:orders:POST /orders",
    "function:orders:orders/create-order",
    "topic:platform:orders.order-placed",
    "queue:billing:billing-on-order-placed",
    "function:billing:billing/on-order-placed",
    "topic:platform:platform.event-failed",
  ]) {
    assert.ok(svg.includes(`data-id="${id}"`), `no node ${id}`);
  }
  for (const edge of [
    /<title>route:orders:POST \/orders invokes function:orders:orders\/create-order/,
    // orders publishes it: from its handler, or from its outbox relay (the table's stream)
    /<title>function:orders:orders\/[\w-]+ publishes topic:platform:orders\.order-placed/,
    /<title>topic:platform:orders\.order-placed delivers queue:billing:billing-on-order-placed/,
    /<title>queue:billing:billing-on-order-placed triggers function:billing:billing\/on-order-placed/,
    /<title>function:billing:billing\/on-order-placed writes table:platform:data/,
  ]) {
    assert.match(svg, edge, `no edge ${edge}`);
  }
  assert.match(svg, /class="legend"/);
  assert.match(svg, /dead letters after 5 receives/);
});

test("a subscription's filter policy labels its arrow", async () => {
  const svg = await generateFlowDiagram(REPO_ROOT, "dev", [join(REPO_ROOT, "shared/infra/test/fixtures/sample-service")]);
  assert.match(svg, /type: orders\.order-placed/);
  assert.is(describeFilter('{"total":{"amount":[{"numeric":[">",100]}]},"type":["a","b"],"source":[{"prefix":"ord"},{"anything-but":["x","y"]}]}'), "source: prefix ord | anything-but x y; total.amount: numeric > 100; type: a | b");
});

test("ARNs name their resource: tables (and their indexes and streams), functions, state machines, streams", () => {
  assert.equal(arnTarget("arn:aws:dynamodb:eu-west-1:1:table/dev-data/index/gsi1"), { service: "dynamodb", name: "dev-data" });
  assert.equal(arnTarget("arn:aws:dynamodb:eu-west-1:1:table/dev-data/stream/2026"), { service: "dynamodb", name: "dev-data" });
  assert.equal(arnTarget("arn:aws:lambda:eu-west-1:1:function:dev-f:live"), { service: "lambda", name: "dev-f" });
  assert.equal(arnTarget("arn:aws:states:eu-west-1:1:stateMachine:dev-flow"), { service: "states", name: "dev-flow" });
  assert.equal(arnTarget("arn:aws:kinesis:eu-west-1:1:stream/dev-s"), { service: "kinesis", name: "dev-s" });
  assert.equal(arnTarget("arn:aws:sqs:eu-west-1:1:dev-q"), { service: "sqs", name: "dev-q" });
});

/** A captured resource, as the mocks record it. */
function resource(type: string, name: string, inputs: Record<string, unknown>, state: Record<string, unknown> = {}): CapturedResource {
  return { type, name, urn: `urn:${type}::${name}`, parent: "", custom: true, inputs, state: { ...inputs, ...state }, id: name };
}

const A = "arn:aws";
const R = "eu-west-1:123456789012";

test("streams, table streams, workflows and resource types it does not know are read from the wiring too", async () => {
  const platform = [
    resource("aws:kinesis/stream:Stream", "stream", { name: "dev-orders-order-shipped", shardCount: 2 }, { arn: `${A}:kinesis:${R}:stream/dev-orders-order-shipped` }),
    resource("aws:dynamodb/table:Table", "data", { name: "dev-data", streamEnabled: true, streamViewType: "NEW_IMAGE" }, { arn: `${A}:dynamodb:${R}:table/dev-data`, streamArn: `${A}:dynamodb:${R}:table/dev-data/stream/x` }),
    resource("aws:sqs/queue:Queue", "on-failure", { name: "dev-shipping-on-failure" }, { arn: `${A}:sqs:${R}:dev-shipping-on-failure` }),
    resource("aws:pipes/pipe:Pipe", "pipe", { name: "dev-pipe" }, { arn: `${A}:pipes:${R}:pipe/dev-pipe` }),
  ];
  const shipping = [
    resource("aws:iam/role:Role", "reader-role", { name: "dev-shipping-reader" }, { arn: `${A}:iam::123456789012:role/dev-shipping-reader` }),
    resource("aws:lambda/function:Function", "reader", { name: "dev-shipping-reader", role: `${A}:iam::123456789012:role/dev-shipping-reader` }, { arn: `${A}:lambda:${R}:function:dev-shipping-reader` }),
    resource("aws:lambda/function:Function", "relay", { name: "dev-shipping-relay" }, { arn: `${A}:lambda:${R}:function:dev-shipping-relay` }),
    resource("aws:lambda/eventSourceMapping:EventSourceMapping", "reader-mapping", {
      eventSourceArn: `${A}:kinesis:${R}:stream/dev-orders-order-shipped`,
      functionName: "dev-shipping-reader",
      destinationConfig: { onFailure: { destinationArn: `${A}:sqs:${R}:dev-shipping-on-failure` } },
      filterCriteria: { filters: [{ pattern: '{"data":{"country":["NL"]}}' }] },
    }),
    resource("aws:lambda/eventSourceMapping:EventSourceMapping", "relay-mapping", {
      eventSourceArn: `${A}:dynamodb:${R}:table/dev-data/stream/x`,
      functionName: `${A}:lambda:${R}:function:dev-shipping-relay`,
      filterCriteria: { filters: [{ pattern: JSON.stringify({ eventName: ["INSERT"], dynamodb: { Keys: { pk: { S: [{ prefix: "$shipping#" }] } } } }) }] },
    }),
    resource("aws:iam/role:Role", "flow-role", { name: "dev-shipping-flow" }, { arn: `${A}:iam::123456789012:role/dev-shipping-flow` }),
    resource("aws:sfn/stateMachine:StateMachine", "flow", { name: "dev-shipping-flow", roleArn: `${A}:iam::123456789012:role/dev-shipping-flow` }, { arn: `${A}:states:${R}:stateMachine:dev-shipping-flow` }),
    resource("aws:iam/rolePolicy:RolePolicy", "flow-policy", {
      role: "dev-shipping-flow",
      // A function's versions and aliases (`:*`) name the function too.
      policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: [`${A}:lambda:${R}:function:dev-shipping-relay:*`] }] }),
    }),
    resource("aws:iam/rolePolicy:RolePolicy", "reader-policy", {
      role: "dev-shipping-reader",
      policy: JSON.stringify({
        Statement: [
          { Effect: "Allow", Action: ["states:StartExecution"], Resource: `${A}:states:${R}:stateMachine:dev-shipping-flow` },
          { Effect: "Allow", Action: ["kinesis:PutRecord", "kinesis:DescribeStream"], Resource: `${A}:kinesis:${R}:stream/dev-orders-order-shipped` },
          { Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [`${A}:dynamodb:${R}:table/dev-data/index/*`, `${A}:sqs:${R}:*`] },
          { Effect: "Allow", Action: ["pipes:StartPipe", "sqs:SendMessage"], Resource: [`${A}:pipes:${R}:pipe/dev-pipe`, `${A}:sqs:${R}:dev-shipping-on-failure`] },
          { Effect: "Deny", Action: ["sns:Publish"], Resource: "*" },
        ],
      }),
    }),
  ];
  // (The reader's grant to send to its on-failure queue is not an arrow of its own: the on-failure arrow says it.)
  const graph = flowGraph(
    [
      { project: "platform", resources: platform },
      { project: "shipping", resources: shipping },
    ],
    { stage: "dev", eventTypes: [{ type: "orders.order-shipped", fifo: false }] },
  );
  const edges = graph.edges.map((e) => `${e.from} ${e.kind} ${e.to}${e.label ? ` [${e.label}]` : ""}`);
  assert.equal(edges, [
    "function:shipping:shipping-reader on-failure queue:platform:shipping-on-failure [on failure]",
    "function:shipping:shipping-reader puts stream:platform:orders.order-shipped",
    "function:shipping:shipping-reader writes table:platform:data",
    "function:shipping:shipping-reader starts workflow:shipping:shipping-flow",
    "stream:platform:orders.order-shipped triggers function:shipping:shipping-reader [filter: data.country: NL]",
    "table:platform:data triggers function:shipping:shipping-relay [filter: Keys.pk: prefix $shipping#; eventName: INSERT]",
    "workflow:shipping:shipping-flow invokes function:shipping:shipping-relay",
  ]);
  const stream = graph.nodes.find((n) => n.kind === "stream")!;
  assert.equal(stream.details, ["2 shards"]);
  assert.equal(graph.nodes.find((n) => n.kind === "table")!.details, ["stream: new image"]);
  // The pipe: not a node type the diagram knows, and only an ungranted action points at it, so it is not shown.
  assert.not.ok(graph.nodes.some((n) => n.kind === "other"));
  // An unknown type that an edge reaches (a mapping's source) becomes a node labelled with its type.
  const withPipeSource = flowGraph(
    [
      { project: "platform", resources: platform },
      {
        project: "shipping",
        resources: [...shipping, resource("aws:lambda/eventSourceMapping:EventSourceMapping", "pipe-mapping", { eventSourceArn: `${A}:pipes:${R}:pipe/dev-pipe`, functionName: "dev-shipping-relay" })],
      },
    ],
    { stage: "dev" },
  );
  const other = withPipeSource.nodes.find((n) => n.kind === "other");
  assert.equal(other && { label: other.label, caption: other.caption }, { label: "pipe", caption: "pipes pipe" });
  // Laid out and rendered: every node and edge in the SVG, the same bytes twice.
  const svg = renderFlowSvg(await layoutFlow(graph));
  for (const node of graph.nodes) assert.ok(svg.includes(`data-id="${node.id}"`), node.id);
  assert.is((svg.match(/class="edge"/g) ?? []).length, graph.edges.length);
  assert.is(renderFlowSvg(await layoutFlow(graph)), svg);
  assert.ok(diagramEventTypes().some((e) => e.type === "platform.event-failed"));
});

test.run();
