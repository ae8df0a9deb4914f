import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadStackConfig } from "../../capture/stack-config";
import { REPO_ROOT } from "../helpers/bundle";
import { platformOutputs } from "./harness";
import { serviceProjectDirs } from "../../testing/whole-system";
import { eventTypes, streamEventTypes } from "../../contract";

// Proves the programs start the way `pulumi up` starts them: Pulumi's own runner (`@pulumi/pulumi/cmd/run`) in the
// project folder, loaded by `node --import tsx` (the projects' nodeargs), config from PULUMI_CONFIG, against the
// mock monitor.
const RUNNER = join(__dirname, "support", "run-like-pulumi.ts");
const SAMPLE = join(__dirname, "fixtures", "sample-service");
const work = mkdtempSync(join(tmpdir(), "pulumi-runner-"));

interface Started {
  code: number | null;
  stderr: string;
  captured: { code: number; resources: { type: string; name: string; parent: string; custom: boolean }[] } | undefined;
}

function startLikePulumi(projectDir: string, stage: string, env: Record<string, string> = {}): Promise<Started> {
  const config = loadStackConfig(projectDir, stage);
  const main = config.main.slice(projectDir.length + 1);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", RUNNER, projectDir, config.project, stage, main], {
      cwd: projectDir,
      env: { ...process.env, PULUMI_CONFIG: JSON.stringify(config.values), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith("CAPTURED "));
      resolve({ code, stderr, captured: line ? JSON.parse(line.slice("CAPTURED ".length)) : undefined });
    });
  });
}

/** Everything on stderr but the one line the mock monitor is known to cause (it has no shutdown handshake). */
function unexpectedStderr(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.includes("signalAndWaitForShutdown is not a function"));
}

const count = (started: Started, type: string) => started.captured?.resources.filter((r) => r.type === type).length ?? 0;

let platformRun: Started;
let serviceRun: Started;
const repoServiceRuns = new Map<string, Started>();

test.before(async () => {
  const outputsFile = join(work, "platform-dev.json");
  writeFileSync(outputsFile, JSON.stringify(await platformOutputs("dev")));
  // A failing program is not started here: without an engine, Pulumi's runner prints the error with
  // util.inspect(err, { colors: true }), which spends over a minute in garbage collection on these programs.
  [platformRun, serviceRun] = await Promise.all([
    startLikePulumi(REPO_ROOT, "dev"),
    startLikePulumi(SAMPLE, "dev", { PLATFORM_OUTPUTS: outputsFile }),
  ]);
  // Every service of the repository too, one after another (each is a fresh Node process).
  for (const dir of serviceProjectDirs()) {
    repoServiceRuns.set(dir, await startLikePulumi(dir, "dev", { PLATFORM_OUTPUTS: outputsFile }));
  }
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test("the platform program starts under Pulumi's runner and registers the platform", () => {
  assert.is(platformRun.code, 0, platformRun.stderr);
  assert.equal(unexpectedStderr(platformRun.stderr), []);
  assert.is(count(platformRun, "pulumi:pulumi:Stack"), 1);
  // However many events the catalog holds (a repository adds its own): a stream event has a Kinesis stream instead.
  assert.ok(streamEventTypes.length > 0 && streamEventTypes.length < eventTypes.length, "the catalog holds stream events and others");
  const topicEvents = eventTypes.length - streamEventTypes.length;
  assert.is(count(platformRun, "aws:sns/topic:Topic"), topicEvents + 2, "one topic per catalog event that is not a stream event, failure and alarm topics");
  assert.is(count(platformRun, "aws:sns/topicPolicy:TopicPolicy"), topicEvents + 2);
  assert.is(count(platformRun, "aws:kinesis/stream:Stream"), streamEventTypes.length, "one Kinesis stream per stream event");
  assert.is(count(platformRun, "aws:dynamodb/table:Table"), 2);
  assert.is(count(platformRun, "aws:kms/key:Key"), 1);
});

test("a service program starts under Pulumi's runner and registers its components", () => {
  assert.is(serviceRun.code, 0, serviceRun.stderr);
  assert.equal(unexpectedStderr(serviceRun.stderr), []);
  const expected: [string, number][] = [
    ["platform:infra:Service", 1],
    ["pulumi:pulumi:StackReference", 1],
    ["platform:infra:EventConsumer", 1],
    ["platform:infra:ServiceFunction", 2],
    ["platform:infra:HttpApi", 1],
    ["aws:sqs/queue:Queue", 3],
    ["aws:sns/topicSubscription:TopicSubscription", 1],
    ["aws:lambda/eventSourceMapping:EventSourceMapping", 1],
    ["aws:lambda/function:Function", 2],
    ["aws:iam/rolePolicy:RolePolicy", 2],
    ["aws:cloudwatch/metricAlarm:MetricAlarm", 2],
    ["aws:apigatewayv2/route:Route", 1],
    ["aws:lambda/permission:Permission", 1],
  ];
  for (const [type, n] of expected) assert.is(count(serviceRun, type), n, type);
  const stack = serviceRun.captured?.resources.find((r) => r.type === "pulumi:pulumi:Stack");
  assert.is(stack?.name, "billing-dev");
});

test("every service of the repository starts under Pulumi's runner", () => {
  assert.is(repoServiceRuns.size, serviceProjectDirs().length);
  for (const [dir, run] of repoServiceRuns) {
    assert.is(run.code, 0, `${dir}: ${run.stderr}`);
    assert.equal(unexpectedStderr(run.stderr), [], dir);
    assert.is(count(run, "platform:infra:Service"), 1, dir);
    assert.ok(count(run, "aws:lambda/function:Function") >= 1, `${dir} registers its functions`);
  }
});

test.run();
