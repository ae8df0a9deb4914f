/**
 * The repository's parts and the directions in which they may import one another, written once, as data. The
 * README's "Parts import one way" paragraph is generated from it (`directionsParagraph`), and
 * `scripts/test/imports.test.ts` reads every import of every source file and fails on one that goes against it.
 *
 * Imports are read without a compiler (TypeScript 7 has no JavaScript API): comments and template literals are
 * blanked, then every `import ... from "x"`, `export ... from "x"`, `import "x"`, `import("x")` (also in types:
 * `typeof import("x")`) and `require("x")` is a specifier. Type-only imports count: they couple parts as much.
 */
import { posix } from "node:path";

export interface Part {
  name: string;
  /**
   * Where its files are, from the repository root: a folder (ending in `/`) or a file; `*` stands for one path
   * segment (a service's name). The first part whose path matches a file owns it.
   */
  paths: readonly string[];
  /**
   * What it may import besides itself: a part's name, or `<part>/<path>` for one file or folder of that part.
   * `"*"`: any part.
   */
  imports: readonly string[];
  /** Packages it must not import (a name, or a scope ending in `/`). */
  forbiddenPackages?: readonly string[];
  /** Why the directions are as they are, for the README. */
  why?: string;
  /** How the README names it when not by its name. */
  label?: string;
  /** The label names several things (the README says "import", not "imports"). */
  plural?: boolean;
}

/**
 * Tests and benchmarks: any file in a `test/` or `bench/` folder, or named `*.test.ts`. They may import any part (a
 * test reaches into what it tests), and only tests and scripts import them.
 */
export const TESTS = "tests";

export const PARTS: readonly Part[] = [
  { name: "contract", paths: ["shared/contract/"], imports: [], forbiddenPackages: ["@pulumi/"] },
  {
    name: "runtime",
    paths: ["shared/runtime/"],
    imports: ["contract"],
    forbiddenPackages: ["@pulumi/"],
    why: "it is bundled into every function",
  },
  { name: "capture", paths: ["shared/capture/"], imports: ["contract"] },
  {
    name: "infra",
    paths: ["shared/infra/"],
    imports: ["contract", "runtime/bundle-options", "capture"],
    why: "the runtime's bundle options, so deployed bundles are built exactly as the local stage builds them; the capture, whose resources the guardrails read",
  },
  {
    name: "local",
    paths: ["shared/local/"],
    imports: ["contract", "runtime", "capture", "infra", "catalog/diagram", "catalog/document"],
    why: "the flow diagram and the catalog's JSON Schemas, which its console shows",
  },
  {
    name: "testing",
    paths: ["shared/testing/"],
    imports: ["contract", "runtime/workflow", "capture", "infra", "local"],
    why: "the runtime's workflow client, which its service test bed points at the local Step Functions engine in the test's own process and forgets afterwards",
  },
  {
    name: "catalog",
    paths: ["shared/catalog/"],
    imports: ["contract", "capture", "infra/event-consumer"],
    label: "`catalog` (the AsyncAPI document, `npm run catalog`)",
    why: "the consumer component's type, to find consumers among a program's resources",
  },
  { name: "platform", paths: ["platform/"], imports: ["contract", "infra"] },
  {
    name: "services",
    paths: ["services/*/index.ts", "services/*/workflows/"],
    imports: ["contract", "infra"],
    label: "a service's program (`services/<name>/index.ts` and its `workflows/`)",
  },
  {
    name: "handlers",
    paths: ["services/*/"],
    imports: ["contract", "runtime"],
    forbiddenPackages: ["@pulumi/"],
    label: "its handlers and entities (the rest of the service's folder)",
    plural: true,
    why: "they run in Lambda",
  },
  { name: "generators", paths: ["generators/", "plopfile.ts"], imports: [] },
  { name: "scripts", paths: ["scripts/"], imports: ["*"], why: "the test runner and the CI tools; they may also import tests" },
];

const SOURCE = /\.(?:ts|mts|cts|js|mjs|cjs)$/;

/** Whether a repository path is a source file the rules cover. */
export function isSource(path: string): boolean {
  return SOURCE.test(path) && !path.endsWith(".d.ts");
}

function isTest(path: string): boolean {
  const segments = path.split("/");
  return segments.slice(0, -1).some((s) => s === "test" || s === "bench") || /\.test\.[cm]?[jt]s$/.test(path);
}

function matches(pattern: string, path: string): boolean {
  const wanted = pattern.split("/");
  const folder = pattern.endsWith("/");
  if (folder) wanted.pop();
  const segments = path.split("/");
  if (folder ? segments.length <= wanted.length : segments.length !== wanted.length) return false;
  return wanted.every((w, i) => w === "*" || w === segments[i]);
}

/** The part owning a path, `tests`, or undefined for a file no part claims. */
export function partOf(path: string, parts: readonly Part[] = PARTS): string | undefined {
  if (isTest(path)) return TESTS;
  return parts.find((p) => p.paths.some((pattern) => matches(pattern, path)))?.name;
}

/** The service a path belongs to (`services/<name>/...`), if any. */
function serviceOf(path: string): string | undefined {
  const [top, name] = path.split("/");
  return top === "services" && name ? name : undefined;
}

/** Comments and template literals replaced by spaces (line breaks kept), quoted strings kept. */
export function blankCommentsAndTemplates(text: string): string {
  let out = "";
  let i = 0;
  const blank = (from: number, to: number) => text.slice(from, to).replace(/[^\n]/g, " ");
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      out += blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "`") {
      let j = i + 1;
      let depth = 0;
      while (j < text.length) {
        if (text[j] === "\\") j += 2;
        else if (depth === 0 && text[j] === "`") break;
        else {
          if (text[j] === "$" && text[j + 1] === "{") depth++;
          else if (text[j] === "}" && depth > 0) depth--;
          j++;
        }
      }
      out += blank(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORT_PATTERNS = [
  // import x from "a"; import { a, type b } from "a"; import type * as x from "a"; export * from "a"; export { a } from "a"
  /(?<![.\w$])(?:import|export)\s+(?:type\s+)?[\w$*{}\s,]*?\bfrom\s*(["'])([^"'\n]+)\1/g,
  // import "a" (for its side effects)
  /(?<![.\w$])import\s*(["'])([^"'\n]+)\1/g,
  // import("a"), typeof import("a"), require("a"), import x = require("a")
  /(?<![.\w$])(?:import|require)\s*\(\s*(["'])([^"'\n]+)\1/g,
];

/** Every module specifier a source text imports, in order of appearance (duplicates kept once). */
export function importsOf(text: string): string[] {
  const code = blankCommentsAndTemplates(text);
  const found: { at: number; specifier: string }[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) found.push({ at: m.index, specifier: m[2]! });
  }
  return [...new Set(found.sort((a, b) => a.at - b.at).map((f) => f.specifier))];
}

/** A package name from a bare specifier (`@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`). */
function packageOf(specifier: string): string {
  const segments = specifier.split("/");
  return specifier.startsWith("@") ? segments.slice(0, 2).join("/") : segments[0]!;
}

export interface Edge {
  file: string;
  specifier: string;
  /** The imported path, from the repository root (extension as written, if any). */
  target: string;
}

/** Whether `allowed` (a part name or `<part>/<path>`) admits an import of `target`, owned by `targetPart`. */
function admits(allowed: string, targetPart: string, target: string, parts: readonly Part[]): boolean {
  if (allowed === "*" || allowed === targetPart) return true;
  const slash = allowed.indexOf("/");
  if (slash < 0 || allowed.slice(0, slash) !== targetPart) return false;
  const sub = allowed.slice(slash + 1);
  const part = parts.find((p) => p.name === targetPart);
  return (part?.paths ?? []).some((root) => {
    const base = posix.join(root, sub);
    const bare = target.replace(SOURCE, "");
    return bare === base || target.startsWith(`${base}/`) || bare === `${base}/index`;
  });
}

export interface ImportReport {
  /** One line per import that goes against the directions, per file no part claims, per cycle. */
  problems: string[];
  /** Imports between different parts (tests and scripts left out), one entry per file and specifier. */
  edges: Edge[];
}

/**
 * Checks the imports of `files` (repository path -> source text) against `parts`: each import of another part
 * must be one its part may make; no service imports another; forbidden packages stay out; every source file
 * belongs to a part; and the parts' imports form no cycle.
 */
export function checkImports(files: ReadonlyMap<string, string>, parts: readonly Part[] = PARTS): ImportReport {
  const problems: string[] = [];
  const edges: Edge[] = [];
  for (const [file, text] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const from = partOf(file, parts);
    if (from === undefined) {
      problems.push(`${file} belongs to no part: add its folder to a part in scripts/imports.ts`);
      continue;
    }
    const part = parts.find((p) => p.name === from);
    for (const specifier of importsOf(text)) {
      if (!specifier.startsWith(".")) {
        const pkg = packageOf(specifier);
        const banned = part?.forbiddenPackages?.find((f) => (f.endsWith("/") ? pkg.startsWith(f) : pkg === f));
        if (banned) problems.push(`${file} imports "${specifier}": ${from} must not import ${banned.endsWith("/") ? `${banned}*` : banned}`);
        continue;
      }
      const target = posix.normalize(posix.join(posix.dirname(file), specifier));
      if (target.startsWith("../")) continue; // outside the repository
      const to = targetPartOf(target, parts);
      if (to === undefined) continue; // a file no part claims is reported as such
      const [fromService, toService] = [serviceOf(file), serviceOf(target)];
      if (fromService && toService && fromService !== toService) {
        problems.push(`${file} imports "${specifier}": services never import one another (${fromService} -> ${toService})`);
        continue;
      }
      if (to === from) continue;
      if (to === TESTS) {
        if (from !== TESTS && from !== "scripts") problems.push(`${file} imports "${specifier}": only tests and scripts import tests`);
        continue;
      }
      if (from === TESTS || from === "scripts") continue;
      edges.push({ file, specifier, target });
      const allowed = part?.imports ?? [];
      if (!allowed.some((a) => admits(a, to, target, parts))) {
        const may = allowed.length === 0 ? "no other part" : allowed.join(", ");
        problems.push(`${file} imports "${specifier}" (${to}): ${from} may import ${may}`);
      }
    }
  }
  problems.push(...importCycles(edges, parts));
  return { problems, edges };
}

/** The part a resolved import target belongs to (a file with or without extension, or a folder's index). */
function targetPartOf(target: string, parts: readonly Part[]): string | undefined {
  if (SOURCE.test(target)) return partOf(target, parts);
  return partOf(`${target}.ts`, parts) ?? partOf(`${target}/index.ts`, parts) ?? partOf(target, parts);
}

/** Each elementary cycle of a graph (part -> part -> how), reported once, with the "how" of each step. */
function cyclesOf(graph: ReadonlyMap<string, ReadonlyMap<string, string>>): string[] {
  const cycles: string[] = [];
  const seen = new Set<string>();
  const walk = (start: string, node: string, path: string[]) => {
    for (const next of graph.get(node)?.keys() ?? []) {
      if (next === start) {
        const min = path.indexOf([...path].sort()[0]!);
        const ring = [...path.slice(min), ...path.slice(0, min)];
        const key = ring.join(" -> ");
        if (seen.has(key)) continue;
        seen.add(key);
        const steps = ring.map((p, i) => graph.get(p)!.get(ring[(i + 1) % ring.length]!)!);
        cycles.push(`cycle ${key} -> ${ring[0]}: ${steps.join("; ")}`);
      } else if (!path.includes(next)) {
        walk(start, next, [...path, next]);
      }
    }
  };
  for (const start of graph.keys()) walk(start, start, [start]);
  return cycles;
}

function importCycles(edges: readonly Edge[], parts: readonly Part[]): string[] {
  const graph = new Map<string, Map<string, string>>();
  for (const edge of edges) {
    const from = partOf(edge.file, parts)!;
    const to = targetPartOf(edge.target, parts)!;
    if (!graph.has(from)) graph.set(from, new Map());
    if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, `${edge.file} imports "${edge.specifier}"`);
  }
  return cyclesOf(graph);
}

/** The cycles the directions themselves allow (empty when they point one way). */
export function cyclesInDirections(parts: readonly Part[] = PARTS): string[] {
  const graph = new Map<string, Map<string, string>>();
  for (const part of parts) {
    for (const allowed of part.imports) {
      const to = allowed.split("/")[0]!;
      if (to === "*" || to === part.name) continue;
      if (!graph.has(part.name)) graph.set(part.name, new Map());
      graph.get(part.name)!.set(to, `${part.name} may import ${allowed}`);
    }
  }
  return cyclesOf(graph);
}

function quoted(name: string): string {
  return `\`${name}\``;
}

function list(items: readonly string[]): string {
  return items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** The README's paragraph on import directions, generated from `parts`. */
export function directionsParagraph(parts: readonly Part[] = PARTS): string {
  const sentences = parts.map((part) => {
    const who = part.label ?? quoted(part.name);
    const targets = part.imports.map((a) => (a === "*" ? "any part" : quoted(a)));
    const verb = part.plural ? "import" : "imports";
    let rule = targets.length === 0 ? `${who} ${verb} no other part` : `${who} ${verb} ${targets[0] === "any part" ? "any part" : `only ${list(targets)}`}`;
    if (part.forbiddenPackages?.length) rule += ` and no ${list(part.forbiddenPackages.map((p) => quoted(p.endsWith("/") ? `${p}*` : p)))}`;
    if (part.why) rule += ` (${part.why})`;
    return rule;
  });
  return (
    `Parts import one way: ${sentences.join("; ")}. Tests (files in a \`test/\` or \`bench/\` folder, and \`*.test.ts\`) ` +
    "may import any part; only tests and scripts import them. No service imports another, and the parts' imports form " +
    "no cycle. `scripts/imports.ts` holds these directions as data and `scripts/test/imports.test.ts` checks every " +
    "import of every source file against them (and that this paragraph says what the data says)."
  );
}
