/// <reference lib="dom" />
/**
 * The console in the browser: plain DOM, no framework. Bundled by esbuild (server.ts) and served by the stage. It
 * reads the admin API (`/_local/...`) and the live trace stream (`/_local/events`), and acts through the admin API:
 * publish, redrive, replay. Every control is a real button, link or labelled field, so it works from the keyboard.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: Json[];
  const?: Json;
  format?: string;
  description?: string;
  anyOf?: Schema[];
  oneOf?: Schema[];
  minimum?: number;
  maximum?: number;
};

const ADMIN = "/_local";

// Helpers --------------------------------------------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string | boolean | undefined> = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (key === "text") element.textContent = String(value);
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) element.append(child);
  return element;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: JsonObject,
  ) {
    super(message);
  }
}

async function api(method: "GET" | "POST", path: string, body?: unknown): Promise<JsonObject> {
  const response = await fetch(`${ADMIN}${path}`, {
    method,
    headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: JsonObject = {};
  try {
    json = text ? (JSON.parse(text) as JsonObject) : {};
  } catch {
    json = { message: text };
  }
  if (!response.ok) throw new ApiError(String(json.message ?? `HTTP ${response.status}`), response.status, json);
  return json;
}

function say(target: HTMLElement, text: string, kind: "ok" | "error" | "" = ""): void {
  target.replaceChildren(el("p", { class: `message ${kind}`, text }));
}

/** What identifies a control across re-renders: its kind and its accessible name. */
function focusKey(element: Element): string {
  return `${element.tagName}|${element.getAttribute("aria-label") ?? element.textContent ?? ""}`;
}

/**
 * Replaces a container's content without losing the reader's place: the control that had the focus gets it back in
 * the new content (the same kind and name); when it is gone or disabled (a Redrive with nothing left), its section's
 * heading gets it. Lists re-render when traces arrive, and a keyboard user must not be thrown back to the page's top.
 */
function replaceKeepingFocus(container: HTMLElement, ...nodes: (Node | string)[]): void {
  const active = document.activeElement;
  const key = active && active !== document.body && container.contains(active) ? focusKey(active) : undefined;
  container.replaceChildren(...nodes);
  if (key === undefined) return;
  const again = [...container.querySelectorAll<HTMLElement>("button, summary, a, input, select, textarea")].find((e) => focusKey(e) === key && !(e as HTMLButtonElement).disabled);
  if (again) again.focus();
  else container.closest("section")?.querySelector<HTMLElement>("h2[tabindex]")?.focus();
}

function ms(value: unknown): string {
  if (typeof value !== "number") return "";
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function debounce(fn: () => void, wait: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(fn, wait);
  };
}

// Traces ---------------------------------------------------------------------------------------------------------

type TraceNode = JsonObject & { kind?: string };
interface Tree {
  correlationId: string;
  startedAt: string;
  durationMs: number;
  settled: boolean;
  roots: TraceNode[];
}

const traces = new Map<string, Tree>();
const traceElements = new Map<string, HTMLDetailsElement>();
/** Traces the reader opened or closed (their choice wins over the default: the newest open). */
const toggled = new Map<string, boolean>();
let highlighted: string | undefined;
const MAX_TRACES = 60;

/** Children of a trace node: its nested hops, whatever their kind (new kinds of hops show without changes here). */
function childrenOf(node: TraceNode): TraceNode[] {
  const children: { at: number; node: TraceNode }[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === "invocation" && value && typeof value === "object" && !Array.isArray(value)) {
      // A request's invocation: its work is the request's.
      for (const child of childrenOf(value as TraceNode)) children.push({ at: children.length, node: child });
      continue;
    }
    if (!Array.isArray(value)) continue;
    for (const item of value) {
      if (item && typeof item === "object" && !Array.isArray(item) && typeof (item as TraceNode).kind === "string") {
        const at = (item as JsonObject).at ?? (item as JsonObject).time ?? (item as JsonObject).startedAt ?? (item as JsonObject).enteredAt;
        children.push({ at: typeof at === "number" ? at : Number.MAX_SAFE_INTEGER, node: item as TraceNode });
      }
    }
  }
  // What an invocation did, in the order it did it.
  return children.sort((a, b) => a.at - b.at).map((c) => c.node);
}

function short(id: unknown): string {
  const text = typeof id === "string" ? id : "";
  return text.length > 13 ? `${text.slice(0, 8)}…` : text;
}

/** One line for a hop: what happened, and its timing. */
function describeHop(node: TraceNode, startedAt: number): { text: string; took?: string; offset?: string; bad?: boolean } {
  const offset = (at: unknown) => (typeof at === "number" && at >= startedAt ? `+${Math.round(at - startedAt)} ms` : undefined);
  const s = (key: string) => (typeof node[key] === "string" ? (node[key] as string) : "");
  switch (node.kind) {
    case "request": {
      const invocation = (node.invocation ?? {}) as TraceNode;
      const status = node.status === undefined ? "running" : String(node.status);
      const cold = typeof invocation.initDurationMs === "number" ? ` (cold start ${ms(invocation.initDurationMs)})` : "";
      return {
        text: `${s("method")} ${s("path")} → ${status} from ${String(invocation.label ?? "")}${cold}${node.note ? ` [${s("note")}]` : ""}`,
        took: ms(node.durationMs),
        bad: typeof node.status === "number" && node.status >= 500,
      };
    }
    case "publish": {
      const what = node.eventType ? `${s("eventType")} ${short(node.eventId)}` : `message ${short(node.messageId)}`;
      const deliveries = Array.isArray(node.deliveries) ? node.deliveries.length : 0;
      const text =
        node.outcome === "rejected"
          ? `${what} to ${s("topic")} was refused: ${s("error")}`
          : `${node.publisher === "local" ? "published by hand" : "published"} ${what} to ${s("topic")}${deliveries === 0 && node.outcome === "published" ? " (nobody consumes it)" : ""}`;
      return { text, offset: offset(node.time), bad: node.outcome === "rejected" };
    }
    case "delivery": {
      const status = s("status");
      const where = s("queue");
      const text =
        status === "filtered-out"
          ? `not delivered to ${where}: the filter policy did not match`
          : status === "dead-lettered"
            ? `moved from ${where} to the dead-letter queue ${s("deadLetterQueue")}`
            : status === "queued" && node.kept
              ? `kept in ${where}: ${s("kept")}`
              : `delivered to ${where} (${status}${typeof node.receives === "number" && node.receives > 1 ? `, receive ${node.receives}` : ""})`;
      return { text, bad: ["dead-lettered", "undeliverable", "expired"].includes(status) };
    }
    case "invocation": {
      const status = s("status");
      const batch = typeof node.messages === "number" ? ` (batch of ${node.messages})` : "";
      const cold = typeof node.initDurationMs === "number" ? ` after a ${ms(node.initDurationMs)} cold start` : "";
      const text = status === "ok" ? `${s("label")} handled it${cold}${batch}` : status === "running" ? `${s("label")} is running${batch}` : `${s("label")} ${status}${cold}${node.error ? `: ${s("error")}` : ""}`;
      return { text, took: ms(node.durationMs), bad: status === "failed" || status === "timeout" || status === "partial" };
    }
    case "write": {
      const keys = Array.isArray(node.keys) && node.keys.length ? ` (${node.keys.join(", ")})` : "";
      const result = s("result");
      const took = typeof node.answeredAt === "number" && typeof node.at === "number" ? ms(node.answeredAt - node.at) : undefined;
      if (node.allowed === false) return { text: `DENIED ${s("operation")} on ${s("table")}${keys}: ${s("error")}`, bad: true, offset: offset(node.at) };
      if (result && result !== "ok") {
        return {
          text: result === "ConditionalCheckFailedException" ? `${s("operation")} on ${s("table")}${keys} not written: its condition did not hold` : `${s("operation")} on ${s("table")}${keys} failed: ${result}`,
          offset: offset(node.at),
          ...(took ? { took } : {}),
          bad: result !== "ConditionalCheckFailedException",
        };
      }
      return { text: `wrote ${s("operation")} on ${s("table")}${keys}`, offset: offset(node.at), ...(took ? { took } : {}) };
    }
    case "denial":
      return { text: `DENIED ${s("action")} on ${s("resource")}: ${s("message")}`, bad: true, offset: offset(node.at) };
    case "stream-record": {
      const keys = Array.isArray(node.keys) && node.keys.length ? ` (${node.keys.join(", ")})` : "";
      const outcomes = Array.isArray(node.outcomes) && node.outcomes.length ? `: ${node.outcomes.join(", ")}` : typeof node.awaiting === "number" && node.awaiting > 0 ? ": waiting for its readers" : "";
      return { text: `${s("eventName")} on ${s("table")}'s stream${keys}${outcomes}`, bad: Array.isArray(node.outcomes) && node.outcomes.includes("given-up") };
    }
    case "execution":
      return { text: `workflow ${s("stateMachine")} ran ${s("name")}: ${s("status")}${node.error ? ` (${s("error")})` : ""}`, took: ms(node.durationMs), offset: offset(node.startedAt), bad: ["FAILED", "TIMED_OUT", "ABORTED"].includes(s("status")) };
    case "state":
      return {
        text: `${s("type")} state ${s("name")}: ${s("status")}${typeof node.retries === "number" && node.retries > 0 ? ` after ${plural(node.retries, "retry")}` : ""}${node.error ? ` (${s("error")})` : ""}`,
        took: ms(node.durationMs),
        offset: offset(node.enteredAt),
        bad: s("status") === "failed",
      };
    default: {
      // A hop this console does not know yet: its kind and its plain fields (ids and spans left out).
      const fields = Object.entries(node)
        .filter(([key, value]) => !HIDDEN_FIELDS.has(key) && (typeof value === "string" || typeof value === "number" || (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string"))))
        .slice(0, 6)
        .map(([key, value]) => `${key} ${Array.isArray(value) ? value.join(", ") : String(value)}`);
      return { text: `${String(node.kind)}: ${fields.join(", ")}`, took: ms(node.durationMs), offset: offset(node.at ?? node.time ?? node.startedAt), bad: node.status === "failed" };
    }
  }
}

/** Fields a hop this console does not know shows no value of: ids, spans, times (the timing shows them). */
const HIDDEN_FIELDS = new Set(["kind", "spanId", "parentSpanId", "traceId", "requestId", "sequenceNumber", "at", "time", "startedAt", "enteredAt", "answeredAt", "durationMs"]);

function hopItem(node: TraceNode, startedAt: number): HTMLLIElement {
  const hop = describeHop(node, startedAt);
  const item = el("li", { class: hop.bad ? "bad" : undefined }, hop.offset ? el("span", { class: "time", text: `${hop.offset}  ` }) : null, hop.text, hop.took ? el("span", { class: "took", text: `  ${hop.took}` }) : null);
  const errors = Array.isArray(node.errorLogs) ? node.errorLogs : [];
  const children = childrenOf(node);
  if (errors.length || children.length) {
    const list = el("ul");
    for (const line of errors) list.append(el("li", { class: "bad", text: `logged error: ${String(line)}` }));
    for (const child of children) list.append(hopItem(child, startedAt));
    item.append(list);
  }
  return item;
}

function hasProblem(tree: Tree): boolean {
  const text = JSON.stringify(tree.roots);
  return /"status":"(failed|timeout|partial|dead-lettered|undeliverable|expired)"|"allowed":false|"outcome":"rejected"/.test(text);
}

function renderTrace(tree: Tree, isNewest: boolean): HTMLDetailsElement {
  const existing = traceElements.get(tree.correlationId);
  const details = existing ?? el("details", { class: "trace", "data-correlation-id": tree.correlationId });
  const open = toggled.get(tree.correlationId) ?? (existing ? existing.open : isNewest);
  const startedAt = Date.parse(tree.startedAt);
  const state = hasProblem(tree) ? el("span", { class: "badge problem", text: "problem" }) : null;
  // The summary stays the same element across updates (it may have the keyboard's focus); only its words change.
  let summary = details.querySelector<HTMLElement>(":scope > summary");
  if (!summary) {
    summary = el("summary");
    // A click (or Enter or Space on the summary) is the reader's choice, which updates and new traces respect.
    summary.addEventListener("click", () => toggled.set(tree.correlationId, !details.open));
    details.append(summary);
  }
  summary.replaceChildren(
    el("strong", { class: "mono", text: tree.correlationId }),
    el("span", { class: `badge ${tree.settled ? "settled" : "running"}`, text: tree.settled ? "settled" : "in progress" }),
    state ?? "",
    el("span", { class: "muted", text: `${new Date(startedAt).toLocaleTimeString()} · ${ms(tree.durationMs)}` }),
  );
  const list = el("ul", { class: "tree", "aria-label": `trace ${tree.correlationId}` });
  for (const root of tree.roots) list.append(hopItem(root, startedAt));
  const previous = details.querySelector(":scope > ul.tree");
  if (previous) previous.replaceWith(list);
  else details.append(list);
  details.open = open;
  if (!existing) traceElements.set(tree.correlationId, details);
  details.classList.toggle("highlight", highlighted === tree.correlationId);
  return details;
}

function showTrace(tree: Tree): void {
  const isNew = !traces.has(tree.correlationId);
  traces.delete(tree.correlationId);
  traces.set(tree.correlationId, tree);
  const list = byId("trace-list");
  const element = renderTrace(tree, true);
  if (isNew) {
    // The newest first; the one opened before it closes unless the reader chose otherwise.
    const previous = list.firstElementChild as HTMLDetailsElement | null;
    if (previous && !toggled.has(previous.dataset.correlationId ?? "")) previous.open = false;
    list.prepend(element);
    while (traces.size > MAX_TRACES) {
      const [oldest] = traces.keys();
      traces.delete(oldest!);
      traceElements.get(oldest!)?.remove();
      traceElements.delete(oldest!);
    }
  }
  byId("trace-count").textContent = plural(traces.size, "trace");
}

function connectTraces(onChange: () => void): void {
  const status = byId("status");
  const source = new EventSource(`${ADMIN}/events`);
  source.addEventListener("open", () => {
    status.dataset.live = "true";
    status.textContent = "live: traces arrive as they happen";
  });
  source.addEventListener("error", () => {
    status.dataset.live = "false";
    status.textContent = "not connected to the stage (is npm start running?); retrying…";
  });
  source.addEventListener("trace", (event) => {
    showTrace(JSON.parse((event as MessageEvent<string>).data) as Tree);
    onChange();
  });
}

// Publish form ---------------------------------------------------------------------------------------------------

interface Field {
  element: HTMLElement;
  read(): Json | undefined;
}

let fieldIds = 0;

function typeOf(schema: Schema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null");
  if (schema.type) return schema.type;
  if (schema.properties) return "object";
  if (schema.enum) return typeof schema.enum[0];
  if (schema.const !== undefined) return typeof schema.const;
  return undefined;
}

function jsonField(label: string, value: Json | undefined, required: boolean): Field {
  const id = `field-${++fieldIds}`;
  const area = el("textarea", { id, rows: "3", cols: "50", class: "mono", required });
  area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
  return {
    element: el("div", {}, el("label", { for: id }, label, el("span", { class: "hint", text: " (JSON)" })), area),
    read: () => {
      if (area.value.trim() === "") return undefined;
      try {
        return JSON.parse(area.value) as Json;
      } catch {
        throw new Error(`${label}: not JSON`);
      }
    },
  };
}

/** A form field for a JSON Schema, filled with `value`. */
function fieldFor(schema: Schema, label: string, value: Json | undefined, required: boolean): Field {
  const type = typeOf(schema);
  const id = `field-${++fieldIds}`;
  const hint = schema.description ? el("span", { class: "hint", text: ` ${schema.description}` }) : null;
  const labelled = (control: HTMLElement) => el("div", {}, el("label", { for: id }, label, required ? "" : el("span", { class: "hint", text: " (optional)" }), hint), control);

  if (schema.anyOf || schema.oneOf) return jsonField(label, value, required);
  if (schema.enum || schema.const !== undefined) {
    const options = schema.enum ?? [schema.const!];
    const select = el("select", { id, required });
    if (!required) select.append(el("option", { value: "", text: "(none)" }));
    options.forEach((option, index) => select.append(el("option", { value: String(index), text: String(option) })));
    const selected = options.findIndex((o) => o === value);
    select.value = selected >= 0 ? String(selected) : required ? "0" : "";
    return { element: labelled(select), read: () => (select.value === "" ? undefined : options[Number(select.value)]) };
  }
  switch (type) {
    case "object": {
      const properties = schema.properties ?? {};
      const needed = new Set(schema.required ?? []);
      const current = value && typeof value === "object" && !Array.isArray(value) ? value : {};
      const children = Object.entries(properties).map(([key, child]) => ({ key, field: fieldFor(child, key, current[key], needed.has(key)) }));
      const fieldset = el("fieldset", {}, el("legend", { text: label }), ...children.map((c) => c.field.element));
      return {
        element: fieldset,
        read: () => {
          const out: JsonObject = {};
          for (const { key, field } of children) {
            const v = field.read();
            if (v !== undefined) out[key] = v;
          }
          return out;
        },
      };
    }
    case "array": {
      const itemSchema = schema.items ?? {};
      const items: Field[] = [];
      const list = el("div");
      const fieldset = el("fieldset", {}, el("legend", { text: label }), list);
      const add = (itemValue: Json | undefined) => {
        const field = fieldFor(itemSchema, `${label} item`, itemValue, true);
        const remove = el("button", { type: "button", text: `Remove this ${label} item` });
        const wrapper = el("div", { class: "array-item" }, field.element, remove);
        items.push(field);
        remove.addEventListener("click", () => {
          items.splice(items.indexOf(field), 1);
          wrapper.remove();
        });
        list.append(wrapper);
      };
      const initial = Array.isArray(value) ? value : [];
      for (const item of initial) add(item);
      const addButton = el("button", { type: "button", text: `Add a ${label} item` });
      addButton.addEventListener("click", () => add(Array.isArray(value) ? value[0] : undefined));
      fieldset.append(el("div", { class: "row" }, addButton));
      return { element: fieldset, read: () => items.map((f) => f.read() ?? null) };
    }
    case "integer":
    case "number": {
      const input = el("input", { id, type: "number", step: type === "integer" ? "1" : "any", required });
      if (typeof schema.minimum === "number") input.min = String(schema.minimum);
      if (typeof schema.maximum === "number") input.max = String(schema.maximum);
      input.value = typeof value === "number" ? String(value) : "";
      return { element: labelled(input), read: () => (input.value === "" ? undefined : Number(input.value)) };
    }
    case "boolean": {
      const input = el("input", { id, type: "checkbox" });
      input.checked = value === true;
      return { element: el("div", { class: "checkbox" }, input, el("label", { for: id, text: label })), read: () => input.checked };
    }
    case "string": {
      const input = el("input", { id, type: "text", size: "40", required });
      input.value = typeof value === "string" ? value : "";
      return { element: labelled(input), read: () => (input.value === "" && !required ? undefined : input.value) };
    }
    default:
      return jsonField(label, value, required);
  }
}

interface CatalogEvent {
  type: string;
  version: number;
  owner: string;
  description: string;
  ordering: string;
  schema: Schema;
  example: Json;
}

async function setUpPublishForm(onPublished: (correlationId: string) => void): Promise<void> {
  const { events } = (await api("GET", "/catalog")) as unknown as { events: CatalogEvent[] };
  const select = byId<HTMLSelectElement>("event-type");
  const fields = byId("event-fields");
  const description = byId("event-description");
  const result = byId("publish-result");
  let current: { event: CatalogEvent; field: Field } | undefined;
  for (const event of events) select.append(el("option", { value: event.type, text: `${event.type} (v${event.version}, from ${event.owner})` }));
  const show = () => {
    const event = events.find((e) => e.type === select.value) ?? events[0];
    if (!event) return;
    const field = fieldFor(event.schema, "data", event.example, true);
    fields.replaceChildren(field.element);
    description.textContent = `${event.description} ${event.ordering === "fifo" ? "FIFO: ordered per message group." : ""}`;
    current = { event, field };
  };
  select.addEventListener("change", show);
  byId("reset-example").addEventListener("click", show);
  show();
  byId<HTMLFormElement>("publish-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    if (!current) return;
    let data: Json | undefined;
    try {
      data = current.field.read();
    } catch (error) {
      say(result, (error as Error).message, "error");
      return;
    }
    const correlationId = byId<HTMLInputElement>("correlation-id").value.trim();
    try {
      const sent = await api("POST", "/publish", { type: current.event.type, data, ...(correlationId ? { correlationId } : {}) });
      const id = String(sent.correlationId);
      const show = el("button", { type: "button", text: "Show its trace" });
      show.addEventListener("click", () => focusTrace(id));
      result.replaceChildren(el("p", { class: "message ok" }, `Published ${current.event.type} ${String(sent.eventId)} (correlation id `, el("code", { text: id }), "). ", show));
      onPublished(id);
    } catch (error) {
      const issues = error instanceof ApiError && Array.isArray(error.body.issues) ? (error.body.issues as JsonObject[]) : [];
      result.replaceChildren(
        el("p", { class: "message error", text: `Not published: ${(error as Error).message}` }),
        ...(issues.length ? [el("ul", {}, ...issues.map((i) => el("li", { text: `${String(i.path || "(data)")}: ${String(i.message)}` })))] : []),
      );
    }
  });
}

function focusTrace(correlationId: string): void {
  highlighted = correlationId;
  for (const [id, element] of traceElements) element.classList.toggle("highlight", id === correlationId);
  const element = traceElements.get(correlationId);
  if (!element) return;
  element.open = true;
  toggled.set(correlationId, true);
  element.querySelector("summary")?.focus();
  element.scrollIntoView({ block: "nearest" });
}

// Dead letters, failures and other admin rows ---------------------------------------------------------------------

/** Dead-letter queues whose messages the reader opened (they stay open across re-renders). */
const shownMessages = new Set<string>();

async function renderDeadLetters(): Promise<void> {
  const list = byId("dlq-list");
  const result = byId("dlq-result");
  const { deadLetterQueues } = (await api("GET", "/dlq")) as unknown as { deadLetterQueues: { name: string; depth: number; source: string; kind: string }[] };
  if (deadLetterQueues.length === 0) {
    replaceKeepingFocus(list, el("p", { class: "muted", text: "No dead-letter queues." }));
    return;
  }
  const body = el("tbody");
  // What holds messages first: that is what a person came for.
  const sorted = [...deadLetterQueues].sort((a, b) => Number(b.depth > 0) - Number(a.depth > 0) || a.name.localeCompare(b.name));
  for (const queue of sorted) {
    const showButton = el("button", { type: "button", text: "Messages", "aria-label": `Show the messages in ${queue.name}`, "aria-expanded": "false", disabled: queue.depth === 0 });
    const redrive = el("button", { type: "button", text: "Redrive", "aria-label": `Redrive ${queue.name} to ${queue.source}`, disabled: queue.depth === 0 });
    const messages = el("tr", { hidden: true }, el("td", { colspan: "4" }));
    const showMessages = async () => {
      const { messages: found } = (await api("GET", `/dlq/${encodeURIComponent(queue.name)}`)) as unknown as { messages: { messageId: string; body: string; receiveCount: number }[] };
      messages.hidden = false;
      showButton.setAttribute("aria-expanded", "true");
      messages.firstElementChild!.replaceChildren(...found.map((m) => el("pre", { text: `${m.messageId} (received ${m.receiveCount}×)\n${m.body}` })));
    };
    showButton.addEventListener("click", () => {
      if (!messages.hidden) {
        messages.hidden = true;
        showButton.setAttribute("aria-expanded", "false");
        shownMessages.delete(queue.name);
        return;
      }
      shownMessages.add(queue.name);
      void showMessages();
    });
    if (shownMessages.has(queue.name) && queue.depth > 0) void showMessages();
    redrive.addEventListener("click", async () => {
      try {
        const moved = await api("POST", `/dlq/${encodeURIComponent(queue.name)}/redrive`);
        say(result, `Moved ${plural(Number(moved.moved), "message")} from ${queue.name} back to ${String(moved.to)}.`, "ok");
      } catch (error) {
        say(result, `Redrive of ${queue.name} failed: ${(error as Error).message}`, "error");
      }
      await renderDeadLetters();
    });
    body.append(
      el(
        "tr",
        { "data-queue": queue.name },
        el("td", {}, el("code", { text: queue.name }), el("div", { class: "muted", text: `${queue.kind === "queue" ? "failed in" : "undeliverable to"} ${queue.source}` })),
        el("td", { class: "num", text: String(queue.depth), "aria-label": `${plural(queue.depth, "message")}` }),
        el("td", {}, showButton),
        el("td", {}, redrive),
      ),
      messages,
    );
  }
  replaceKeepingFocus(list, el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Queue" }), el("th", { text: "Messages" }), el("th", {}), el("th", {}))), body)));
}

async function renderFailures(): Promise<void> {
  const list = byId("failure-list");
  const result = byId("failure-result");
  let answer: { queue: string; failures: JsonObject[] };
  try {
    answer = (await api("GET", "/failures")) as unknown as { queue: string; failures: JsonObject[] };
  } catch (error) {
    replaceKeepingFocus(list, el("p", { class: "muted", text: (error as Error).message }));
    return;
  }
  if (answer.failures.length === 0) {
    replaceKeepingFocus(list, el("p", { class: "muted", text: `None: ${answer.queue} is empty.` }));
    return;
  }
  const items = answer.failures.map((failure) => {
    const id = String(failure.id);
    const replay = el("button", { type: "button", text: "Replay", "aria-label": `Replay ${String(failure.originalType ?? "")} ${String(failure.originalId ?? id)}`, disabled: Boolean(failure.notReplayable) });
    replay.addEventListener("click", async () => {
      try {
        const done = await api("POST", `/failures/${encodeURIComponent(id)}/replay`);
        say(result, `Replayed ${String(done.eventType)} ${String(done.eventId)} (correlation id ${String(done.correlationId)}).`, "ok");
      } catch (error) {
        say(result, `Replay failed: ${(error as Error).message}`, "error");
      }
      await renderFailures();
    });
    return el(
      "li",
      { "data-failure": id },
      el("strong", { text: `${String(failure.originalType ?? "unreadable event")} ` }),
      el("code", { text: short(failure.originalId) }),
      ` rejected by ${String(failure.rejectedBy ?? "?")} (${String(failure.reason ?? "?")}): ${String(failure.message ?? "")} `,
      failure.notReplayable ? el("span", { class: "muted", text: `cannot be replayed: ${String(failure.notReplayable)} ` }) : "",
      replay,
    );
  });
  replaceKeepingFocus(list, el("ul", {}, ...items));
}

/** The admin rows the sections above already show. */
const SHOWN = new Set(["/", "/health", "/dlq", "/failures", "/publish", "/trace", "/catalog", "/tables", "/events", "/console"]);

/** A row of a list in a few words: its plain fields, and a stream batch's shard and sequence range. */
function describeRow(row: JsonObject): string {
  const parts = Object.entries(row)
    .filter(([key, value]) => !["id", "messageId"].includes(key) && (typeof value === "string" || typeof value === "number" || typeof value === "boolean"))
    .slice(0, 6)
    .map(([key, value]) => `${key}: ${String(value)}`);
  const record = (row.record ?? row) as JsonObject;
  const batch = (record.KinesisBatchInfo ?? record.DDBStreamBatchInfo) as JsonObject | undefined;
  const context = record.requestContext as JsonObject | undefined;
  if (batch) {
    parts.push(
      `${plural(Number(batch.batchSize ?? 0), "record")} of ${String(batch.shardId)} (${short(batch.startSequenceNumber)} to ${short(batch.endSequenceNumber)})` +
        `${context?.condition ? ` given up on: ${String(context.condition)} after ${plural(Number(context.approximateInvokeCount ?? 0), "attempt")}` : ""}`,
    );
  }
  return parts.join(" · ");
}

/** The replay of a Kinesis batch a consumer gave up on (`POST /_local/streams/<name>/replay`), when the row is one. */
function streamReplay(row: JsonObject): { path: string; body: { shardId: string; from: string; to: string }; label: string } | undefined {
  const batch = ((row.record ?? row) as JsonObject).KinesisBatchInfo as JsonObject | undefined;
  if (!batch || typeof batch.streamArn !== "string" || typeof batch.shardId !== "string") return undefined;
  const stream = batch.streamArn.split("/").pop()!;
  return {
    path: `/streams/${encodeURIComponent(stream)}/replay`,
    body: { shardId: batch.shardId, from: String(batch.startSequenceNumber), to: String(batch.endSequenceNumber) },
    label: `Replay ${batch.shardId} of ${stream} from ${String(batch.startSequenceNumber)} to ${String(batch.endSequenceNumber)}`,
  };
}

/**
 * The replay of a DynamoDB stream batch a mapping gave up on (`POST /_local/stream-mappings/replay`: its function is
 * invoked again with the range read back from the stream), when the row is one.
 */
function mappingReplay(row: JsonObject): { path: string; body: { function: string; shardId: string; from: string; to: string }; label: string } | undefined {
  const batch = (row.record as JsonObject | undefined)?.DDBStreamBatchInfo as JsonObject | undefined;
  if (!batch || typeof row.function !== "string" || typeof batch.shardId !== "string") return undefined;
  return {
    path: "/stream-mappings/replay",
    body: { function: row.function, shardId: batch.shardId, from: String(batch.startSequenceNumber), to: String(batch.endSequenceNumber) },
    label: `Replay ${batch.shardId} to ${row.function} from ${String(batch.startSequenceNumber)} to ${String(batch.endSequenceNumber)}`,
  };
}

/**
 * Admin rows this console has no section for (streams and their on-failure records, stream mappings, workflow
 * executions, ...): each list row gets a panel listing its items; a `POST <row>/<param>/<action>` row beside it is a
 * button on every item that has that param (or an `id`), and a Kinesis on-failure record gets a Replay button
 * (`POST /_local/streams/<name>/replay` with its shard and sequence range) when the stage has that row, a DynamoDB
 * stream mapping's one a Replay button (`POST /_local/stream-mappings/replay`) likewise.
 */
/** The panels of those rows: reloaded with the queues when something happens. */
const otherPanels: (() => Promise<void>)[] = [];

async function renderOtherRows(): Promise<void> {
  const more = byId("more");
  const { operations } = (await api("GET", "/")) as unknown as { operations: Record<string, string> };
  const keys = Object.keys(operations);
  const canReplayStreams = keys.includes(`POST ${ADMIN}/streams/<name>/replay`);
  const canReplayMappings = keys.includes(`POST ${ADMIN}/stream-mappings/replay`);
  const lists = keys.filter((key) => key.startsWith(`GET ${ADMIN}/`) && !key.includes("<")).map((key) => key.slice(`GET ${ADMIN}`.length)).filter((path) => !SHOWN.has(path));
  const sections: HTMLElement[] = [];
  for (const path of lists) {
    const actions = keys
      .map((key) => new RegExp(`^POST ${ADMIN}${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/<([^>]+)>/([\\w-]+)$`).exec(key))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => ({ param: match[1]!, verb: match[2]! }));
    const headingId = `more-${path.replace(/\W+/g, "-")}`;
    const body = el("div");
    const result = el("div", { role: "status", "aria-live": "polite" });
    const refresh = el("button", { type: "button", text: "Refresh" });
    const section = el(
      "section",
      { "aria-labelledby": headingId, "data-admin-row": path },
      el("h2", { id: headingId }, operations[`GET ${ADMIN}${path}`] ?? path, refresh),
      el("p", { class: "muted" }, el("code", { text: `GET ${ADMIN}${path}` })),
      body,
      result,
    );
    const act = async (label: string, run: () => Promise<JsonObject>) => {
      try {
        const done = await run();
        const count =
          typeof done.replayed === "number"
            ? ` (${plural(done.replayed, "record")} put again)`
            : typeof done.reinvoked === "number"
              ? ` (${plural(done.reinvoked, "record")} sent to ${String(done.function)} again: ${String(done.outcome)}${done.error ? `, ${String(done.error)}` : ""})`
              : typeof done.moved === "number"
                ? ` (${plural(done.moved, "message")} moved)`
                : "";
        say(result, `${label}: done${count}.`, "ok");
      } catch (error) {
        say(result, `${label} failed: ${(error as Error).message}`, "error");
      }
      await load();
    };
    const load = async () => {
      const answer = await api("GET", path);
      const rows = Object.values(answer).find((v) => Array.isArray(v)) as JsonObject[] | undefined;
      if (!rows) {
        replaceKeepingFocus(body, el("pre", { text: JSON.stringify(answer, null, 2) }));
        return;
      }
      if (rows.length === 0) {
        replaceKeepingFocus(body, el("p", { class: "muted", text: "None." }));
        return;
      }
      // Items the reader opened stay open across reloads.
      const opened = new Set([...body.querySelectorAll("details[open] > summary")].map((summary) => summary.textContent));
      replaceKeepingFocus(
        body,
        el(
          "ul",
          {},
          ...rows.map((row) => {
            const buttons: HTMLButtonElement[] = [];
            for (const { param, verb } of actions) {
              const key = row[param] ?? row.id;
              if (typeof key !== "string" && typeof key !== "number") continue;
              const label = `${verb[0]!.toUpperCase()}${verb.slice(1)} ${String(key)}`;
              const button = el("button", { type: "button", text: verb[0]!.toUpperCase() + verb.slice(1), "aria-label": label });
              button.addEventListener("click", () => void act(label, () => api("POST", `${path}/${encodeURIComponent(String(key))}/${verb}`)));
              buttons.push(button);
            }
            const replay = (canReplayStreams ? streamReplay(row) : undefined) ?? (canReplayMappings ? mappingReplay(row) : undefined);
            if (replay) {
              const button = el("button", { type: "button", text: "Replay", "aria-label": replay.label });
              button.addEventListener("click", () => void act(replay.label, () => api("POST", replay.path, replay.body)));
              buttons.push(button);
            }
            return el(
              "li",
              {},
              el("details", { open: opened.has(describeRow(row) || "(details)") }, el("summary", { text: describeRow(row) || "(details)" }), el("pre", { text: JSON.stringify(row, null, 2) })),
              ...buttons,
            );
          }),
        ),
      );
    };
    refresh.addEventListener("click", () => void load().catch((error: unknown) => say(result, (error as Error).message, "error")));
    otherPanels.push(load);
    await load().catch((error: unknown) => body.replaceChildren(el("p", { class: "message error", text: (error as Error).message })));
    sections.push(section);
  }
  more.replaceChildren(...sections);
}

// Data -----------------------------------------------------------------------------------------------------------

interface TableContents {
  table: string;
  project: string;
  count: number;
  truncated: boolean;
  services: { service: string; entities: { entity: string; items: JsonObject[] }[] }[];
}

function cell(value: Json | undefined): string {
  if (value === undefined) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** Entities the reader opened (`table|service|entity`): they stay open when the data is read again. */
const openEntities = new Set<string>();

async function renderData(): Promise<void> {
  const list = byId("data-list");
  const { tables } = (await api("GET", "/tables")) as unknown as { tables: TableContents[] };
  const parts: HTMLElement[] = [];
  for (const table of tables) {
    parts.push(el("h3", {}, el("code", { text: table.table }), el("span", { class: "muted", text: ` ${plural(table.count, "item")}${table.truncated ? " (the first ones)" : ""}, declared by ${table.project}` })));
    if (table.services.length === 0) parts.push(el("p", { class: "muted", text: "Empty." }));
    for (const { service, entities } of table.services) {
      for (const { entity, items } of entities) {
        // ElectroDB's own attributes first out of the way; the rest in a stable order.
        const columns = [...new Set(items.flatMap((item) => Object.keys(item)))].sort((a, b) => Number(a.startsWith("__edb")) - Number(b.startsWith("__edb")) || a.localeCompare(b));
        const grid = el(
          "table",
          {},
          el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: c })))),
          el("tbody", {}, ...items.map((item) => el("tr", {}, ...columns.map((c) => el("td", { class: "mono", text: cell(item[c]) }))))),
        );
        const key = `${table.table}|${service}|${entity}`;
        const details = el("details", { class: "entity", "data-service": service, "data-entity": entity, open: openEntities.has(key) }, el("summary", { text: `${service} · ${entity} (${plural(items.length, "item")})` }), el("div", { class: "scroll" }, grid));
        details.addEventListener("toggle", () => (details.open ? openEntities.add(key) : openEntities.delete(key)));
        parts.push(details);
      }
    }
  }
  replaceKeepingFocus(list, ...parts);
}

// Start ----------------------------------------------------------------------------------------------------------

function main(): void {
  const refreshQueues = debounce(() => {
    void renderDeadLetters().catch(() => undefined);
    void renderFailures().catch(() => undefined);
    for (const load of otherPanels) void load().catch(() => undefined);
  }, 250);
  const refreshData = debounce(() => void renderData().catch(() => undefined), 600);
  connectTraces(() => {
    refreshQueues();
    refreshData();
  });
  void setUpPublishForm((correlationId) => {
    highlighted = correlationId;
  }).catch((error: unknown) => say(byId("publish-result"), `The catalog could not be read: ${(error as Error).message}`, "error"));
  void renderDeadLetters().catch((error: unknown) => say(byId("dlq-result"), (error as Error).message, "error"));
  void renderFailures();
  void renderOtherRows().catch(() => undefined);
  void renderData().catch((error: unknown) => say(byId("data-list"), (error as Error).message, "error"));
  byId("refresh-dlq").addEventListener("click", () => void renderDeadLetters());
  byId("refresh-failures").addEventListener("click", () => void renderFailures());
  byId("refresh-data").addEventListener("click", () => void renderData());
}

main();
