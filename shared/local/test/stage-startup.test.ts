// What the local stage's start-up does to be quick, and that it stays correct:
// - a program runs with stack traces formatted without source maps (Pulumi formats one per resource and per promise),
//   and Node's own (source-mapped) formatting is back afterwards, so a failing program's error still points at the
//   TypeScript line;
// - the CLI's imports load @pulumi/pulumi without npm's Arborist (its function serialization's), which loads on use,
//   and without the runtime's AWS SDK clients;
// - PostgreSQL starts while the programs run when a service will use it, in its own thread, and a Data API statement
//   works right after the stage is ready; a stage without a relational service starts none;
// - npm start starts that thread before it loads the stage's modules;
// - kinesalite runs in its own thread, and a Kinesis put works right after the stage is ready;
// - the workflow interpreter loads at start only for a definition it has not accepted before.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runProgram } from "../../capture/run-program";
import { startLocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
const DIR = join(REPO, ".build", `startup-program-${process.pid}`);

// The program reads a stack while it runs, then throws from line 24 of its source (the type-only lines above move the
// transpiled code's lines away from the source's).
const PROGRAM = `interface Seen {
  stacks: string[];
}
interface Unused {
  a: number;
  b: string;
}
type AlsoUnused = {
  c: boolean;
};
declare const globalThis: { __seen?: Seen };
function where(): string {
  return new Error("inside").stack ?? "";
}
export = async function program(): Promise<Record<string, unknown>> {
  const seen: Seen = { stacks: [where()] };
  globalThis.__seen = seen;
  await Promise.resolve();
  seen.stacks.push(where());
  const fail = process.env.STARTUP_PROGRAM_FAILS === "1";
  if (!fail) return { ok: true };
  const unused: Unused = { a: 1, b: "" };
  void unused;
  throw new Error("the program failed on purpose");
};
`;

test.before(() => {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, "Pulumi.yaml"), "name: startup-probe\nruntime: nodejs\nmain: index.ts\n");
  writeFileSync(join(DIR, "index.ts"), PROGRAM);
});

test.after(() => rmSync(DIR, { recursive: true, force: true }));

/** Wraps the formatter in place (Node's own: source-mapped under tsx) and counts its calls. */
function countNodeFormatter(): { calls: () => number; restore: () => void } {
  const node = Error.prepareStackTrace!;
  assert.type(node, "function", "Node's formatter is installed");
  let calls = 0;
  const counting = (error: Error, frames: NodeJS.CallSite[]) => {
    calls++;
    return node(error, frames);
  };
  Error.prepareStackTrace = counting;
  return {
    calls: () => calls,
    restore: () => {
      assert.is(Error.prepareStackTrace, counting, "the run put the formatter back");
      Error.prepareStackTrace = node;
    },
  };
}

test("stacks read while a program runs are not source-mapped; the formatter is back after the run", async () => {
  const formatter = countNodeFormatter();
  try {
    delete process.env.STARTUP_PROGRAM_FAILS;
    const run = await runProgram({ projectDir: DIR, stage: "local", optionalStageFile: true, overrides: { "aws:region": "us-east-1" } });
    assert.equal(run.outputs, { ok: true });
    const seen = (globalThis as { __seen?: { stacks: string[] } }).__seen!;
    assert.is(seen.stacks.length, 2);
    for (const stack of seen.stacks) assert.match(stack, /^Error: inside\n {4}at where \(/, "V8's frame format, which Pulumi parses");
    assert.is(formatter.calls(), 0, "Node's source-mapping formatter ran while the program ran");
    // After the run, stacks are Node's again.
    void new Error("after").stack;
    assert.is(formatter.calls(), 1);
  } finally {
    formatter.restore();
  }
});

test("a failing program's error, read after the run, points at its TypeScript line", async () => {
  const formatter = countNodeFormatter();
  try {
    process.env.STARTUP_PROGRAM_FAILS = "1";
    const error = await runProgram({ projectDir: DIR, stage: "local", optionalStageFile: true, overrides: { "aws:region": "us-east-1" } }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(error, "the program did not fail");
    assert.is(error!.message, "the program failed on purpose");
    assert.match(error!.stack!, /index\.ts:24:9\)?\n/, `the stack is source-mapped:\n${error!.stack}`);
  } finally {
    delete process.env.STARTUP_PROGRAM_FAILS;
    formatter.restore();
  }
});

test("the CLI's imports leave Pulumi's function-serialization packages and the SDK's clients unloaded; computeCodePaths loads them", () => {
  // A fresh process: what the local stage's start pays for loading.
  const script = `
    require(${JSON.stringify(join(REPO, "shared", "local", "cli.ts"))});
    // What npm start loads before the programs run: the CLI, then the stage and watch mode.
    require(${JSON.stringify(join(REPO, "shared", "local", "stage", "index.ts"))});
    require(${JSON.stringify(join(REPO, "shared", "local", "watch", "index.ts"))});
    const loaded = () => Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/](@npmcli[\\\\/]arborist|normalize-package-data)[\\\\/]/.test(f)).length;
    const pulumi = require("@pulumi/pulumi");
    const before = loaded();
    const clients = Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/]@aws-sdk[\\\\/]client-(dynamodb|sns|kinesis)[\\\\/]/.test(f)).length;
    pulumi.runtime.computeCodePaths({ extraIncludePackages: ["yaml"] }).then((paths) => {
      console.log(JSON.stringify({ before, clients, after: loaded(), pulumiLoaded: Object.keys(require.cache).some((f) => f.endsWith("@pulumi/pulumi/index.js")), yaml: paths.has("node_modules/yaml") }));
    });
  `;
  const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: REPO, encoding: "utf8", env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } });
  const seen = JSON.parse(out.trim().split("\n").pop()!) as { before: number; clients: number; after: number; pulumiLoaded: boolean; yaml: boolean };
  // The runtime's SDK clients are the functions' (bundled into them); the stage's thread builds message attributes only.
  assert.is(seen.clients, 0, "the CLI's imports loaded the AWS SDK's DynamoDB, SNS or Kinesis client");
  assert.ok(seen.pulumiLoaded, "the stage's imports load @pulumi/pulumi");
  assert.is(seen.before, 0, "Arborist or normalize-package-data loaded with @pulumi/pulumi");
  assert.ok(seen.yaml, "computeCodePaths found the package's folder");
  assert.ok(seen.after >= 2, "computeCodePaths loaded the real packages");
});

test("the platform program with its network on loads awsx's ec2 module only (not ECS with its AWS SDK client)", () => {
  const script = `
    const { runProgram } = require(${JSON.stringify(join(REPO, "shared", "capture", "run-program.ts"))});
    runProgram({ projectDir: ${JSON.stringify(REPO)}, stage: "local", optionalStageFile: true, overrides: { "aws:region": "us-east-1", "platform:vpcEnabled": true } }).then((run) => {
      const vpc = run.mocks.resources.filter((r) => r.type === "awsx:ec2:Vpc").length;
      const loaded = Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/](@aws-sdk[\\\\/]client-ecs|@pulumi[\\\\/]awsx[\\\\/]classic)[\\\\/]/.test(f)).length;
      console.log(JSON.stringify({ vpc, loaded }));
    });
  `;
  const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: REPO, encoding: "utf8", env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } });
  const seen = JSON.parse(out.trim().split("\n").pop()!) as { vpc: number; loaded: number };
  assert.is(seen.vpc, 1, "the platform registered its network");
  assert.is(seen.loaded, 0, "the platform program loaded awsx's ECS module or its AWS SDK client");
});

test("state machines checked before: the workflow interpreter is not loaded at start, the first execution loads it", () => {
  // A definition no run has seen: the first process checks it with the interpreter, the second finds it accepted.
  const definition = { Comment: `startup-${process.pid}-${Date.now()}`, StartAt: "A", States: { A: { Type: "Pass", Result: { ok: true }, End: true } } };
  const script = `
    const { StepFunctionsEngine } = require(${JSON.stringify(join(REPO, "shared", "local", "stepfunctions", "engine.ts"))});
    const { rootContext } = require(${JSON.stringify(join(REPO, "shared", "local", "context.ts"))});
    const interpreterLoaded = () => Object.keys(require.cache).some((f) => /[\\\\/]@aws-sdk[\\\\/]client-lambda[\\\\/]/.test(f));
    const engine = new StepFunctionsEngine({ region: "us-east-1", accountId: "000000000000", runner: { invokeFunction: async () => ({ ok: true, payload: null }), publish: async () => ({ MessageId: "m" }) } });
    const arn = "arn:aws:states:us-east-1:000000000000:stateMachine:startup";
    engine.setStateMachines([{ name: "startup", arn, definition: ${JSON.stringify(JSON.stringify(definition))}, roleArn: "arn:aws:iam::000000000000:role/startup", type: "STANDARD" }]).then(async () => {
      const atStart = interpreterLoaded();
      const { executionArn } = engine.startExecution({ stateMachineArn: arn, name: "first", input: "{}", context: rootContext("local") });
      // A bound for a hang (60 s), not 5 s: the interpreter loads on its first execution, slowly on a loaded machine.
      for (const deadline = Date.now() + 60_000; Date.now() < deadline && engine.execution(executionArn).status === "RUNNING"; ) await new Promise((r) => setTimeout(r, 10));
      console.log(JSON.stringify({ atStart, status: engine.execution(executionArn).status, output: engine.execution(executionArn).output, afterExecution: interpreterLoaded() }));
    });
  `;
  const run = () => {
    const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: REPO, encoding: "utf8", env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } });
    return JSON.parse(out.trim().split("\n").pop()!) as { atStart: boolean; status: string; output: string; afterExecution: boolean };
  };
  const first = run();
  assert.ok(first.atStart, "a definition new to the interpreter is checked by it at start");
  assert.is(first.status, "SUCCEEDED");
  const second = run();
  assert.not.ok(second.atStart, "the interpreter was loaded at start for a definition it accepted before");
  assert.is(second.status, "SUCCEEDED");
  assert.equal(JSON.parse(second.output), { ok: true });
  assert.ok(second.afterExecution);
});

test("PostgreSQL starts in its own thread while the programs run; a Data API statement works as soon as the stage is ready", async () => {
  const stage = await startLocalStage({ port: 0, serviceDirs: [join(REPO, "services", "ledger"), join(REPO, "services", "reporting")] });
  try {
    const health = stage.health().relational!;
    assert.is(health.status, "ok", health.detail);
    assert.match(health.detail!, /PostgreSQL started while the programs ran/);
    const client = await stage.relational.client();
    const cluster = stage.relational.cluster!;
    const answer = await client.executeStatement({ resourceArn: cluster.clusterArn, secretArn: cluster.masterSecretArn, database: cluster.database, sql: "select count(*) as n from reporting.schema_migrations" });
    assert.equal(answer.records, [[{ longValue: 2 }]]);
    // PostgreSQL runs in its own thread: this one never loaded PGlite; its errors arrive with the Data API's codes.
    assert.not.ok(Object.keys(require.cache).some((file) => /[\\/]@electric-sql[\\/]pglite[\\/]dist[\\/]/.test(file)), "PGlite was loaded on the stage's thread");
    const refused = await client.executeStatement({ resourceArn: cluster.clusterArn, secretArn: cluster.masterSecretArn, database: cluster.database, sql: "select * from reporting.nope" }).then(
      () => undefined,
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
    );
    assert.is(refused?.name, "DatabaseErrorException");
    assert.is(refused?.$metadata?.httpStatusCode, 400);
    assert.match(refused!.message, /relation "reporting\.nope" does not exist/);
    // Kinesis runs in its own thread too, and takes a put as soon as the stage is ready.
    assert.not.ok(Object.keys(require.cache).some((file) => /[\\/]node_modules[\\/]kinesalite[\\/]/.test(file)), "kinesalite was loaded on the stage's thread");
    const stream = stage.kinesis.streams[0]!;
    const put = await stage.kinesis.engine.putRecord(stream.name, "startup", "{}");
    assert.match(put.sequenceNumber, /^\d+$/);
  } finally {
    await stage.stop();
  }
});

test("npm start starts PostgreSQL's thread before it loads the stage; a statement works right after the ready line", async () => {
  const cli = spawn(process.execPath, ["--import", "tsx", join(REPO, "shared", "local", "cli.ts"), "--port", "0", "--quiet", "--no-watch", "--services", "ledger,reporting"], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  });
  let output = "";
  cli.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => cli.on("close", resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      cli.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const ready = /local stage ready in [\d.]+ s: (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (ready) resolve(ready[1]!);
      });
      cli.on("close", (code) => reject(new Error(`the CLI exited with ${code}:\n${output}`)));
    });
    const health = (await (await fetch(`${url}/_local/health`)).json()) as { parts: Record<string, { status: string; detail?: string }> };
    assert.is(health.parts.relational?.status, "ok");
    assert.match(health.parts.relational!.detail!, /PostgreSQL started as npm start began/);
    const row = (await (await fetch(`${url}/_local/relational`)).json()) as { schemas: { schema: string; migrations: { name: string }[] }[] };
    assert.equal(row.schemas.map((schema) => [schema.schema, schema.migrations.length]), [["reporting", 2]]);
  } finally {
    cli.kill("SIGINT");
    assert.is(await exited, 0, output);
  }
});

test("a stage without a relational service starts no PostgreSQL", async () => {
  const stage = await startLocalStage({ port: 0, serviceDirs: [join(REPO, "services", "orders")] });
  try {
    assert.is(stage.health().relational!.detail, "not started: no service declares a relational store");
    assert.is(stage.relational.engine, undefined);
  } finally {
    await stage.stop();
  }
});

test.run();
