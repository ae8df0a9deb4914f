/**
 * The flow diagram of the system, from the resources its Pulumi programs register (run under mocks, as the local
 * stage and the AsyncAPI document run them): HTTP routes, functions, topics, queues, tables, streams and workflows as
 * nodes, grouped by the program (service) that creates them; what connects them as edges, read from the wiring
 * itself: SNS subscriptions (with their filter policies), event source mappings (queue, stream or table stream to a
 * function; a mapping's on-failure destination), API Gateway integrations, and the IAM grants that let a function or
 * a workflow publish, write, put records, start executions or invoke. Resource types are read generically: a resource
 * an edge reaches that the table below does not name still becomes a node, labelled with its type.
 *
 * Laid out by elkjs (ELK's layered algorithm, no hand-written coordinates) and rendered as a small SVG: deterministic
 * for the same programs, so the committed `docs/flow.svg` changes only when the wiring does.
 */
import type { CapturedResource } from "../capture/pulumi-mocks";
import { json, str } from "../capture/read";
import { topicName } from "../contract/naming";

/** Where `npm run catalog` writes the diagram, relative to the repository root. */
export const DIAGRAM_PATH = "docs/flow.svg";

export type FlowNodeKind = "route" | "function" | "topic" | "queue" | "table" | "stream" | "workflow" | "other";
export type FlowEdgeKind = "invokes" | "delivers" | "triggers" | "publishes" | "writes" | "puts" | "starts" | "sends" | "on-failure";

export interface FlowNode {
  /** Stable id: `<kind>:<project>:<name>`. */
  id: string;
  kind: FlowNodeKind;
  /** The program that created it (`platform`, `billing`). */
  project: string;
  label: string;
  /** Smaller lines under the label (FIFO, its dead-letter queue, auth). */
  details: string[];
  /** What it is when the kind is `other` (the Pulumi type's short name). */
  caption?: string;
}

export interface FlowEdge {
  id: string;
  from: string;
  to: string;
  kind: FlowEdgeKind;
  /** A filter policy, a mapping's filter. */
  label?: string;
}

export interface FlowGraph {
  /** Projects in the order they ran (platform first). */
  projects: string[];
  nodes: FlowNode[];
  edges: FlowEdge[];
}

/** One program's resources, as the capture or the local stage holds them. */
export interface ProgramResources {
  project: string;
  resources: readonly CapturedResource[];
}

/** Resource types that are nodes, and the AWS service their ARNs name. */
const NODE_TYPES: Record<string, { kind: FlowNodeKind; service: string }> = {
  "aws:apigatewayv2/route:Route": { kind: "route", service: "apigateway" },
  "aws:lambda/function:Function": { kind: "function", service: "lambda" },
  "aws:sns/topic:Topic": { kind: "topic", service: "sns" },
  "aws:sqs/queue:Queue": { kind: "queue", service: "sqs" },
  "aws:dynamodb/table:Table": { kind: "table", service: "dynamodb" },
  "aws:kinesis/stream:Stream": { kind: "stream", service: "kinesis" },
  "aws:sfn/stateMachine:StateMachine": { kind: "workflow", service: "states" },
};

/** IAM actions that are an arrow from the role's owner to the resource, and the arrow's kind. */
const GRANT_EDGES: [RegExp, FlowEdgeKind][] = [
  [/^sns:Publish$/i, "publishes"],
  [/^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem)$/i, "writes"],
  [/^kinesis:PutRecords?$/i, "puts"],
  [/^states:Start(Sync)?Execution$/i, "starts"],
  [/^sqs:SendMessage(Batch)?$/i, "sends"],
  [/^lambda:InvokeFunction$/i, "invokes"],
];

const SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription";
const MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping";
const INTEGRATION = "aws:apigatewayv2/integration:Integration";
const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const MANAGED_POLICY = "aws:iam/policy:Policy";
const POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const SERVICE_FUNCTION = "platform:infra:ServiceFunction";

/** The AWS service and resource name an ARN points at (`table/dev-data/index/gsi1` → dynamodb, dev-data). */
export function arnTarget(arn: string): { service: string; name: string } | undefined {
  const parts = arn.split(":");
  if (parts[0] !== "arn" || parts.length < 6) return undefined;
  const service = parts[2]!;
  const resource = parts.slice(5).join(":");
  const segments = resource.split(/[:/]/);
  switch (service) {
    case "lambda":
    case "states":
      return { service, name: segments[1] ?? resource };
    case "dynamodb":
    case "kinesis":
      return { service, name: segments[0] === "table" || segments[0] === "stream" ? (segments[1] ?? resource) : resource };
    default:
      return { service, name: segments[segments.length - 1] ?? resource };
  }
}

function policyStatements(policy: unknown): { actions: string[]; resources: string[] }[] {
  const document = json(policy);
  const statements = document?.Statement;
  const list = Array.isArray(statements) ? statements : statements ? [statements] : [];
  return list
    .filter((s: Record<string, unknown>) => s.Effect === "Allow")
    .map((s: Record<string, unknown>) => ({
      actions: ([] as unknown[]).concat(s.Action ?? []).map(String),
      resources: ([] as unknown[]).concat(s.Resource ?? []).map(String),
    }));
}

/** A compact filter policy for an edge label: `type: orders.order-placed; total.amount: >100`. */
export function describeFilter(policy: unknown): string | undefined {
  const value = json(policy);
  if (!value) return undefined;
  const parts: string[] = [];
  const walk = (object: Record<string, unknown>, path: string) => {
    for (const key of Object.keys(object).sort()) {
      const item = object[key];
      const here = key === "$or" ? path : path ? `${path}.${key}` : key;
      if (Array.isArray(item)) {
        // A condition reads as its operator and operands: `{"prefix":"a"}` -> `prefix a`, `{"numeric":[">",1]}` -> `numeric > 1`.
        const values = item.map((v) =>
          typeof v === "object" && v !== null
            ? Object.entries(v as Record<string, unknown>)
                .map(([op, operand]) => `${op} ${Array.isArray(operand) ? operand.join(" ") : typeof operand === "object" ? JSON.stringify(operand).replace(/"/g, "") : String(operand)}`)
                .join(", ")
            : String(v),
        );
        parts.push(`${here}: ${values.join(" | ")}`);
      } else if (item !== null && typeof item === "object") {
        walk(item as Record<string, unknown>, here);
      }
    }
  };
  walk(value, "");
  return parts.length ? parts.join("; ") : undefined;
}

function shortType(type: string): string {
  // aws:kinesis/streamConsumer:StreamConsumer -> kinesis streamConsumer
  const match = /^([^:]+):([^/]+)\/([^:]+):/.exec(type);
  return match ? `${match[2]} ${match[3]}` : type;
}

/**
 * The flow graph of a system from its programs' resources. `stage` is stripped from resource names (`dev-billing-…`
 * reads `billing-…`), and topics of catalog events are named by their event type (`eventTypes`, FIFO or not).
 */
export function flowGraph(programs: readonly ProgramResources[], options: { stage: string; eventTypes?: readonly { type: string; fifo: boolean }[] }): FlowGraph {
  const { stage } = options;
  const unstage = (name: string) => (name.startsWith(`${stage}-`) ? name.slice(stage.length + 1) : name);
  const eventByTopic = new Map((options.eventTypes ?? []).map((e) => [topicName(stage, e.type, e.fifo), e.type]));
  const nodes = new Map<string, FlowNode>();
  const byArn = new Map<string, FlowNode>();
  const byServiceName = new Map<string, FlowNode>();
  const nodeOfResource = new Map<CapturedResource, FlowNode>();
  const all = programs.flatMap((p) => p.resources.map((resource) => ({ project: p.project, resource })));
  const byUrn = new Map(all.map((r) => [r.resource.urn, r.resource]));

  // Who registered a function: the ServiceFunction component above it names service and handler.
  const functionLabel = (resource: CapturedResource): string => {
    for (let parent = byUrn.get(resource.parent); parent; parent = byUrn.get(parent.parent)) {
      if (parent.type === SERVICE_FUNCTION && str(parent.inputs.service) && str(parent.inputs.name)) return `${parent.inputs.service}/${parent.inputs.name}`;
    }
    return unstage(String(resource.inputs.name ?? resource.state.name ?? resource.name));
  };
  const physicalName = (resource: CapturedResource) => String(resource.inputs.name ?? resource.state.name ?? resource.name);

  const addNode = (project: string, resource: CapturedResource, kind: FlowNodeKind, service: string, label: string, details: string[], caption?: string): FlowNode => {
    const existing = nodeOfResource.get(resource);
    if (existing) return existing;
    const node: FlowNode = { id: `${kind}:${project}:${label}`, kind, project, label, details, ...(caption ? { caption } : {}) };
    nodes.set(node.id, node);
    nodeOfResource.set(resource, node);
    for (const arn of [resource.state.arn, resource.state.streamArn]) if (typeof arn === "string") byArn.set(arn, node);
    byServiceName.set(`${service}:${physicalName(resource)}`, node);
    return node;
  };

  const redriveTargets = new Set<string>();
  for (const { resource } of all) {
    const redrive = json(resource.inputs.redrivePolicy);
    if (typeof redrive?.deadLetterTargetArn === "string") redriveTargets.add(redrive.deadLetterTargetArn);
  }

  for (const { project, resource } of all) {
    const known = NODE_TYPES[resource.type];
    if (!known) continue;
    const name = physicalName(resource);
    const details: string[] = [];
    let label = unstage(name);
    switch (known.kind) {
      case "topic": {
        const event = eventByTopic.get(name);
        if (event) label = event;
        if (resource.inputs.fifoTopic === true) details.push("FIFO");
        break;
      }
      case "queue": {
        // A dead-letter queue is part of its source queue's box, not a node of its own (unless something else points at it).
        if (typeof resource.state.arn === "string" && redriveTargets.has(resource.state.arn)) continue;
        if (resource.inputs.fifoQueue === true) details.push("FIFO");
        const redrive = json(resource.inputs.redrivePolicy);
        if (redrive?.deadLetterTargetArn) details.push(`dead letters after ${redrive.maxReceiveCount ?? "?"} receives`);
        break;
      }
      case "function":
        label = functionLabel(resource);
        break;
      case "route": {
        label = String(resource.inputs.routeKey ?? resource.name);
        const auth = str(resource.inputs.authorizationType);
        if (auth && auth !== "NONE") details.push(auth === "AWS_IAM" ? "IAM auth" : `${auth} auth`);
        break;
      }
      case "table":
        if (resource.inputs.streamEnabled === true) details.push(`stream: ${String(resource.inputs.streamViewType ?? "on").toLowerCase().replace(/_/g, " ")}`);
        break;
      case "stream": {
        const event = eventByTopic.get(name) ?? [...eventByTopic.values()].find((type) => `${stage}-${type.replace(".", "-")}` === name);
        if (event) label = event;
        const shards = resource.inputs.shardCount;
        if (shards !== undefined) details.push(`${shards} shard${Number(shards) === 1 ? "" : "s"}`);
        else if (json(resource.inputs.streamModeDetails)?.streamMode) details.push(String(json(resource.inputs.streamModeDetails)?.streamMode).toLowerCase().replace(/_/g, " "));
        break;
      }
      default:
        break;
    }
    addNode(project, resource, known.kind, known.service, label, details);
  }

  // The node an ARN (or a Lambda function name) points at; a captured resource of a type the table does not know
  // becomes a node of its own, labelled with its type.
  const resolve = (given: unknown, fallbackService?: string): FlowNode | undefined => {
    if (typeof given !== "string" || given === "") return undefined;
    // A grant's ARN may name the resource's parts: a function's versions (`:*`), a table's indexes or streams.
    const reference = given.replace(/(:\*|\/(index|stream)\/\*)$/, "");
    if (reference.includes("*")) return undefined;
    const direct = byArn.get(reference);
    if (direct) return direct;
    const target = arnTarget(reference) ?? (fallbackService ? { service: fallbackService, name: reference } : undefined);
    if (!target) return undefined;
    const named = byServiceName.get(`${target.service}:${target.name}`);
    if (named) return named;
    const other = all.find(({ resource }) => resource.state.arn === reference);
    if (!other || !other.resource.custom) return undefined;
    return addNode(other.project, other.resource, "other", target.service, unstage(physicalName(other.resource)), [], shortType(other.resource.type));
  };

  const edges = new Map<string, FlowEdge>();
  const addEdge = (from: FlowNode | undefined, to: FlowNode | undefined, kind: FlowEdgeKind, label?: string) => {
    if (!from || !to || from === to) return;
    const id = `${from.id}->${to.id}:${kind}`;
    const existing = edges.get(id);
    if (existing) {
      if (label && existing.label !== label) existing.label = existing.label ? `${existing.label} / ${label}` : label;
      return;
    }
    edges.set(id, { id, from: from.id, to: to.id, kind, ...(label ? { label } : {}) });
  };

  // Who holds a role: the function or workflow whose `role`/`roleArn` names it.
  const roleOwners = new Map<string, FlowNode[]>();
  for (const { resource } of all) {
    const owner = nodeOfResource.get(resource);
    const role = str(resource.inputs.role) ?? str(resource.inputs.roleArn);
    if (!owner || !role) continue;
    const key = role.startsWith("arn:") ? (role.split("/").pop() ?? role) : role;
    roleOwners.set(key, [...(roleOwners.get(key) ?? []), owner]);
  }
  const roleKey = (role: unknown): string | undefined => {
    const text = str(role);
    if (!text) return undefined;
    const roleResource = all.find(({ resource }) => resource.type === ROLE && (resource.state.arn === text || resource.state.name === text || resource.id === text));
    const name = roleResource ? physicalName(roleResource.resource) : text;
    return name.startsWith("arn:") ? name.split("/").pop() : name;
  };
  const managedPolicies = new Map(all.filter(({ resource }) => resource.type === MANAGED_POLICY).map(({ resource }) => [String(resource.state.arn), resource.inputs.policy]));
  const grants: { role: string | undefined; policy: unknown }[] = [];
  for (const { resource } of all) {
    if (resource.type === ROLE_POLICY) grants.push({ role: roleKey(resource.inputs.role), policy: resource.inputs.policy });
    if (resource.type === POLICY_ATTACHMENT) grants.push({ role: roleKey(resource.inputs.role), policy: managedPolicies.get(String(resource.inputs.policyArn)) });
    if (resource.type === ROLE && Array.isArray(resource.inputs.inlinePolicies)) {
      for (const inline of resource.inputs.inlinePolicies as { policy?: unknown }[]) grants.push({ role: physicalName(resource), policy: inline.policy });
    }
  }

  for (const { resource } of all) {
    switch (resource.type) {
      case SUBSCRIPTION:
        addEdge(resolve(resource.inputs.topic), resolve(resource.inputs.endpoint), "delivers", describeFilter(resource.inputs.filterPolicy));
        break;
      case MAPPING: {
        const fn = resolve(resource.inputs.functionName, "lambda");
        const criteria = (json(resource.inputs.filterCriteria)?.filters as { pattern?: unknown }[] | undefined) ?? [];
        // A DynamoDB stream record's paths without their wrapper and type: `dynamodb.NewImage.status.S` -> `NewImage.status`.
        const filter = criteria
          .map((f) => describeFilter(f.pattern)?.replace(/\bdynamodb\./g, "").replace(/\.(S|N|B|BOOL|SS|NS|M|L)(?=:)/g, ""))
          .filter(Boolean)
          .join(" or ");
        addEdge(resolve(resource.inputs.eventSourceArn), fn, "triggers", filter ? `filter: ${filter}` : undefined);
        const onFailure = json(resource.inputs.destinationConfig)?.onFailure?.destinationArn;
        addEdge(fn, resolve(onFailure), "on-failure", "on failure");
        break;
      }
      case "aws:apigatewayv2/route:Route": {
        const target = str(resource.inputs.target)?.replace(/^integrations\//, "");
        const integration = all.find(
          ({ resource: r }) => r.type === INTEGRATION && r.inputs.apiId === resource.inputs.apiId && (r.id === target || r.state.id === target || r.inputs.description === resource.inputs.routeKey),
        );
        addEdge(nodeOfResource.get(resource), resolve(integration?.resource.inputs.integrationUri, "lambda"), "invokes");
        break;
      }
      default:
        break;
    }
  }
  for (const grant of grants) {
    const owners = grant.role ? (roleOwners.get(grant.role) ?? []) : [];
    for (const statement of policyStatements(grant.policy)) {
      for (const action of statement.actions) {
        const kind = GRANT_EDGES.find(([pattern]) => pattern.test(action))?.[1];
        if (!kind) continue;
        // Only resources of the action's own service (one statement may list several services' actions and ARNs).
        const service = action.split(":")[0]!.toLowerCase();
        for (const arn of statement.resources) {
          if (arnTarget(arn)?.service !== service) continue;
          for (const owner of owners) addEdge(owner, resolve(arn), kind);
        }
      }
    }
  }

  // A function's grant to send to its own on-failure destination is that arrow already.
  for (const edge of [...edges.values()]) {
    if (edge.kind === "on-failure") edges.delete(`${edge.from}->${edge.to}:sends`);
  }

  // Nodes nothing connects are left out, except events (an event nobody consumes yet is worth seeing) and streams,
  // tables and workflows (they hold data or state).
  const connected = new Set([...edges.values()].flatMap((e) => [e.from, e.to]));
  const kept = [...nodes.values()].filter((n) => connected.has(n.id) || ["topic", "stream", "table", "workflow"].includes(n.kind));
  const keptIds = new Set(kept.map((n) => n.id));
  // Topics without an owner nor a reader that are not catalog events (the alarm topic) are noise here.
  const shown = kept.filter((n) => n.kind !== "topic" || connected.has(n.id) || [...eventByTopic.values()].includes(n.label));
  const shownIds = new Set(shown.map((n) => n.id));
  return {
    projects: programs.map((p) => p.project),
    nodes: shown.sort((a, b) => a.id.localeCompare(b.id)),
    edges: [...edges.values()].filter((e) => keptIds.has(e.from) && keptIds.has(e.to) && shownIds.has(e.from) && shownIds.has(e.to)).sort((a, b) => a.id.localeCompare(b.id)),
  };
}

// Layout ---------------------------------------------------------------------------------------------------------

const FONT = 12;
const SMALL = 10.5;
/** Monospace advance (0.6 em): labels are measured without a browser, so the SVG uses a monospace font. */
const charWidth = (size: number) => size * 0.6;
const PADDING = 10;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LaidOutFlow {
  graph: FlowGraph;
  width: number;
  height: number;
  groups: (Box & { project: string })[];
  nodes: (Box & { node: FlowNode })[];
  edges: { edge: FlowEdge; points: { x: number; y: number }[]; label?: Box & { lines: string[] } }[];
}

function nodeSize(node: FlowNode): { width: number; height: number } {
  const caption = node.caption ?? node.kind;
  const width = Math.max(node.label.length * charWidth(FONT), caption.length * charWidth(SMALL), ...node.details.map((d) => d.length * charWidth(SMALL))) + 2 * PADDING;
  const height = PADDING + SMALL + 4 + FONT + node.details.length * (SMALL + 3) + PADDING;
  return { width: Math.ceil(width), height: Math.ceil(height) };
}

/** Long labels wrap at this many characters. */
const LABEL_WRAP = 44;

function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > LABEL_WRAP) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

interface ElkShape {
  id: string;
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  children?: ElkShape[];
  edges?: { id: string; sources: string[]; targets: string[]; labels?: ElkShape[]; sections?: { startPoint: { x: number; y: number }; endPoint: { x: number; y: number }; bendPoints?: { x: number; y: number }[] }[] }[];
  labels?: (ElkShape & { text?: string })[];
  layoutOptions?: Record<string, string>;
}

/** Lays the graph out with ELK's layered algorithm, top to bottom (a README page is narrower than it is long), each program's nodes in a box of its own. */
export async function layoutFlow(graph: FlowGraph): Promise<LaidOutFlow> {
  // Loaded on the first layout (about 100 ms of module loading): the local stage imports this file for its console
  // and should not pay for ELK before anyone opens the diagram.
  const ELK = (require("elkjs/lib/elk.bundled.js") as typeof import("elkjs/lib/elk.bundled.js")).default;
  const elk = new ELK();
  const groupId = (project: string) => `group:${project}`;
  const onBus = (n: FlowNode) => n.kind === "topic" || n.kind === "stream";
  const projects = graph.projects.filter((p) => graph.nodes.some((n) => n.project === p && !onBus(n)));
  const labelLines = new Map(graph.edges.map((e) => [e.id, e.label ? wrap(e.label) : []]));
  const root: ElkShape = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.hierarchyHandling": "INCLUDE_CHILDREN",
      "elk.edgeRouting": "ORTHOGONAL",
      "elk.layered.spacing.nodeNodeBetweenLayers": "48",
      "elk.spacing.nodeNode": "24",
      "elk.spacing.edgeLabel": "4",
      "elk.edgeLabels.inline": "false",
      "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
      "elk.json.shapeCoords": "ROOT",
      "elk.json.edgeCoords": "ROOT",
      "elk.randomSeed": "1",
    },
    children: [
      // Topics and streams are the bus between the services: outside the program boxes, so events flow down from one service to the next.
      ...graph.nodes.filter(onBus).map((n) => ({ id: n.id, ...nodeSize(n) })),
      ...projects.map((project) => ({
        id: groupId(project),
        layoutOptions: { "elk.padding": "[top=30,left=14,bottom=14,right=14]" },
        children: graph.nodes.filter((n) => n.project === project && !onBus(n)).map((n) => ({ id: n.id, ...nodeSize(n) })),
      })),
    ],
    edges: graph.edges.map((e) => {
      const lines = labelLines.get(e.id)!;
      return {
        id: e.id,
        sources: [e.from],
        targets: [e.to],
        ...(lines.length
          ? { labels: [{ id: `${e.id}:label`, layoutOptions: { "elk.edgeLabels.placement": "HEAD" }, text: lines.join("\n"), width: Math.ceil(Math.max(...lines.map((l) => l.length)) * charWidth(SMALL)) + 6, height: lines.length * (SMALL + 3) + 4 }] }
          : {}),
      };
    }),
  };
  const laid = (await elk.layout(root as never)) as unknown as ElkShape;
  const round = (v: number | undefined) => Math.round((v ?? 0) * 10) / 10;
  const box = (shape: ElkShape): Box => ({ x: round(shape.x), y: round(shape.y), width: round(shape.width), height: round(shape.height) });
  const nodesById = new Map(graph.nodes.map((n) => [n.id, n]));
  const edgesById = new Map(graph.edges.map((e) => [e.id, e]));
  const groups: LaidOutFlow["groups"] = [];
  const nodes: LaidOutFlow["nodes"] = [];
  for (const child of laid.children ?? []) {
    if (!child.id.startsWith("group:")) {
      nodes.push({ node: nodesById.get(child.id)!, ...box(child) });
      continue;
    }
    groups.push({ project: child.id.slice("group:".length), ...box(child) });
    for (const grandchild of child.children ?? []) nodes.push({ node: nodesById.get(grandchild.id)!, ...box(grandchild) });
  }
  nodes.sort((a, b) => a.node.id.localeCompare(b.node.id));
  // With INCLUDE_CHILDREN, ELK keeps each edge in the graph that contains both ends.
  const elkEdges = [...(laid.edges ?? []), ...(laid.children ?? []).flatMap((g) => g.edges ?? [])];
  const edges: LaidOutFlow["edges"] = elkEdges
    .map((e) => {
      const section = e.sections?.[0];
      const points = section ? [section.startPoint, ...(section.bendPoints ?? []), section.endPoint].map((p) => ({ x: round(p.x), y: round(p.y) })) : [];
      const label = e.labels?.[0];
      return { edge: edgesById.get(e.id)!, points, ...(label ? { label: { ...box(label), lines: labelLines.get(e.id)! } } : {}) };
    })
    .sort((a, b) => a.edge.id.localeCompare(b.edge.id));
  return { graph, width: round(laid.width), height: round(laid.height), groups, nodes, edges };
}

// SVG ------------------------------------------------------------------------------------------------------------

/** Fill and stroke of each node kind (also the legend). */
export const NODE_STYLES: Record<FlowNodeKind, { fill: string; stroke: string; name: string }> = {
  route: { fill: "#e8f1fb", stroke: "#2f6db5", name: "HTTP route" },
  function: { fill: "#fff4e0", stroke: "#b86e00", name: "function" },
  topic: { fill: "#f3e8fb", stroke: "#7a3fb0", name: "event topic" },
  queue: { fill: "#e6f5ec", stroke: "#2e7d4f", name: "queue" },
  table: { fill: "#eef0f3", stroke: "#4a5563", name: "table" },
  stream: { fill: "#e3f4f7", stroke: "#13707f", name: "stream" },
  workflow: { fill: "#fdecec", stroke: "#b03a3a", name: "workflow" },
  other: { fill: "#f7f7f7", stroke: "#777777", name: "other" },
};

/** Stroke and dash of each edge kind (also the legend). */
export const EDGE_STYLES: Record<FlowEdgeKind, { stroke: string; dash?: string; name: string }> = {
  invokes: { stroke: "#2f6db5", name: "invokes" },
  publishes: { stroke: "#7a3fb0", name: "publishes" },
  delivers: { stroke: "#2e7d4f", name: "delivers (filter)" },
  triggers: { stroke: "#b86e00", name: "triggers (event source mapping)" },
  writes: { stroke: "#8a93a0", dash: "2 3", name: "writes" },
  puts: { stroke: "#13707f", name: "puts records" },
  starts: { stroke: "#b03a3a", name: "starts" },
  sends: { stroke: "#2e7d4f", dash: "6 3", name: "sends" },
  "on-failure": { stroke: "#c0392b", dash: "6 3", name: "on failure" },
};

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The laid-out graph as a standalone SVG document: boxes per program, nodes, arrows with labels, and a legend. */
export function renderFlowSvg(flow: LaidOutFlow, options: { title?: string } = {}): string {
  const margin = 16;
  const titleHeight = options.title ? 28 : 0;
  const usedNodeKinds = (Object.keys(NODE_STYLES) as FlowNodeKind[]).filter((k) => flow.graph.nodes.some((n) => n.kind === k));
  const usedEdgeKinds = (Object.keys(EDGE_STYLES) as FlowEdgeKind[]).filter((k) => flow.graph.edges.some((e) => e.kind === k));
  // The legend: one row of node kinds, one of edge kinds.
  const legendItems = (items: { text: string }[]) => items.reduce((x, item) => x + 34 + item.text.length * charWidth(SMALL) + 18, 0);
  const legendWidth = Math.max(legendItems(usedNodeKinds.map((k) => ({ text: NODE_STYLES[k].name }))), legendItems(usedEdgeKinds.map((k) => ({ text: EDGE_STYLES[k].name }))));
  const legendHeight = 52;
  const width = Math.ceil(Math.max(flow.width, legendWidth) + 2 * margin);
  const height = Math.ceil(titleHeight + flow.height + legendHeight + 2 * margin);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="flow-title" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace">`,
  );
  out.push(`<title id="flow-title">${escapeXml(options.title ?? "Flow diagram")}</title>`);
  out.push("<defs>");
  for (const kind of usedEdgeKinds) {
    out.push(`<marker id="arrow-${kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${EDGE_STYLES[kind].stroke}"/></marker>`);
  }
  out.push("</defs>");
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  if (options.title) out.push(`<text x="${margin}" y="${margin + 14}" font-size="15" font-weight="bold" fill="#1f2328">${escapeXml(options.title)}</text>`);
  out.push(`<g transform="translate(${margin},${margin + titleHeight})">`);
  for (const group of flow.groups) {
    out.push(`<g class="group" data-project="${escapeXml(group.project)}">`);
    out.push(`<rect x="${group.x}" y="${group.y}" width="${group.width}" height="${group.height}" rx="8" fill="#fafbfc" stroke="#c5cbd3" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${group.x + 12}" y="${group.y + 19}" font-size="${FONT}" font-weight="bold" fill="#3d4450">${escapeXml(group.project === "platform" ? "platform" : `service ${group.project}`)}</text>`);
    out.push("</g>");
  }
  for (const { edge, points, label } of flow.edges) {
    if (points.length < 2) continue;
    const style = EDGE_STYLES[edge.kind];
    const d = points.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
    out.push(
      `<path class="edge" data-kind="${edge.kind}" d="${d}" fill="none" stroke="${style.stroke}" stroke-width="1.4"${style.dash ? ` stroke-dasharray="${style.dash}"` : ""} marker-end="url(#arrow-${edge.kind})"><title>${escapeXml(`${edge.from} ${edge.kind} ${edge.to}${edge.label ? `: ${edge.label}` : ""}`)}</title></path>`,
    );
    if (label) {
      out.push(`<rect x="${label.x}" y="${label.y}" width="${label.width}" height="${label.height}" rx="3" fill="#ffffff" fill-opacity="0.9"/>`);
      label.lines.forEach((line, i) => {
        out.push(`<text x="${label.x + 3}" y="${Math.round((label.y + 2 + (i + 1) * (SMALL + 3) - 3) * 10) / 10}" font-size="${SMALL}" fill="${style.stroke}">${escapeXml(line)}</text>`);
      });
    }
  }
  for (const { node, x, y, width: w, height: h } of flow.nodes) {
    const style = NODE_STYLES[node.kind];
    out.push(`<g class="node" data-kind="${node.kind}" data-id="${escapeXml(node.id)}">`);
    out.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${node.kind === "topic" || node.kind === "stream" ? 14 : 5}" fill="${style.fill}" stroke="${style.stroke}" stroke-width="1.3"/>`);
    out.push(`<text x="${x + PADDING}" y="${y + PADDING + SMALL - 2}" font-size="${SMALL}" fill="${style.stroke}">${escapeXml(node.caption ?? style.name)}</text>`);
    out.push(`<text x="${x + PADDING}" y="${y + PADDING + SMALL + 4 + FONT - 2}" font-size="${FONT}" font-weight="bold" fill="#1f2328">${escapeXml(node.label)}</text>`);
    node.details.forEach((detail, i) => {
      out.push(`<text x="${x + PADDING}" y="${y + PADDING + SMALL + 4 + FONT + (i + 1) * (SMALL + 3) - 1}" font-size="${SMALL}" fill="#57606a">${escapeXml(detail)}</text>`);
    });
    out.push("</g>");
  }
  out.push("</g>");
  // Legend.
  const legendY = margin + titleHeight + flow.height + 18;
  out.push(`<g class="legend" transform="translate(${margin},${legendY})" font-size="${SMALL}" fill="#1f2328">`);
  let x = 0;
  for (const kind of usedNodeKinds) {
    const style = NODE_STYLES[kind];
    out.push(`<rect x="${x}" y="0" width="26" height="14" rx="3" fill="${style.fill}" stroke="${style.stroke}"/><text x="${x + 32}" y="11">${escapeXml(style.name)}</text>`);
    x += 34 + style.name.length * charWidth(SMALL) + 18;
  }
  x = 0;
  for (const kind of usedEdgeKinds) {
    const style = EDGE_STYLES[kind];
    out.push(
      `<path d="M${x},29 L${x + 26},29" stroke="${style.stroke}" stroke-width="1.4"${style.dash ? ` stroke-dasharray="${style.dash}"` : ""} marker-end="url(#arrow-${kind})"/><text x="${x + 32}" y="33">${escapeXml(style.name)}</text>`,
    );
    x += 34 + style.name.length * charWidth(SMALL) + 18;
  }
  out.push("</g>");
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** The system's flow diagram as SVG, from its programs' resources. */
export async function flowDiagramSvg(
  programs: readonly ProgramResources[],
  options: { stage: string; eventTypes?: readonly { type: string; fifo: boolean }[]; title?: string },
): Promise<string> {
  const graph = flowGraph(programs, options);
  return renderFlowSvg(await layoutFlow(graph), { title: options.title ?? "Flow: every route, event, queue and function, as the programs wire them" });
}
