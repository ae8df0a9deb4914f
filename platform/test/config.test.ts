import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStackConfig } from "../../shared/capture/stack-config";
import { runProgram } from "../../shared/capture/run-program";

const root = join(__dirname, "..", "..");

/** A copy of the project file with a stage file of our own. */
function projectWithStage(stage: string, yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "platform-config-"));
  copyFileSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  writeFileSync(join(dir, `Pulumi.${stage}.yaml`), yaml);
  return dir;
}

async function programError(overrides: Record<string, unknown>, stage = "dev"): Promise<string> {
  try {
    await runProgram({ projectDir: root, stage, overrides, optionalStageFile: true });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("the program accepted the config");
}

test("declared defaults merge with the stage file the way Pulumi does", () => {
  const dev = loadStackConfig(root, "dev").values;
  assert.is(dev["aws:region"], "eu-west-1");
  assert.is(dev["platform:logRetentionDays"], "14");
  assert.is(dev["platform:logLevel"], "DEBUG", "stage value wins over the default");
  assert.is(dev["platform:tracingMode"], "Active", "default from Pulumi.yaml");
  assert.is(dev["platform:vpcEnabled"], "true", "the dev stage turns the network on (its relational store lives there)");
  assert.is(dev["platform:relationalSecondsUntilAutoPause"], "300", "default from Pulumi.yaml");
  assert.is(dev["platform:alarmEmail"], "");
  const prod = loadStackConfig(root, "prod").values;
  assert.is(prod["platform:logRetentionDays"], "365");
  assert.is(prod["platform:deletionProtection"], "true");
});

test("a value of the wrong type in a stage file names the key and the file", () => {
  const dir = projectWithStage("dev", "config:\n  aws:region: eu-west-1\n  platform:logRetentionDays: two weeks\n");
  assert.throws(() => loadStackConfig(dir, "dev"), /platform:logRetentionDays in .*Pulumi\.dev\.yaml must be an integer, got "two weeks"/);
});

test("a misspelt key is an error, not silently ignored", () => {
  const dir = projectWithStage("dev", "config:\n  aws:region: eu-west-1\n  platform:logRetention: 14\n");
  assert.throws(() => loadStackConfig(dir, "dev"), /platform:logRetention in .* is not declared in .*Pulumi\.yaml \(known keys: platform:logRetentionDays/);
});

test("a missing stage file and secrets are reported", () => {
  assert.throws(() => loadStackConfig(root, "staging"), /no stage file .*Pulumi\.staging\.yaml/);
  const dir = projectWithStage("dev", "config:\n  aws:region: eu-west-1\n  platform:alarmEmail:\n    secure: AAABAJ==\n");
  assert.throws(() => loadStackConfig(dir, "dev"), /platform:alarmEmail in .* is a secret/);
});

test("the program names the key of a missing or invalid value", async () => {
  assert.match(await programError({ "aws:region": undefined }), /aws:region/);
  assert.match(await programError({ "platform:logLevel": "VERBOSE" }), /platform:logLevel.*VERBOSE|VERBOSE.*platform:logLevel/s);
  assert.match(await programError({ "platform:tracingMode": "Sometimes" }), /platform:tracingMode/);
  assert.match(await programError({ "platform:logRetentionDays": 13 }), /platform:logRetentionDays is 13; CloudWatch accepts one of 1, 3, 5/);
  assert.match(await programError({ "platform:alarmEmail": "ops" }), /platform:alarmEmail "ops" is not an e-mail address/);
  assert.match(await programError({ "platform:vpcEnabled": true, "platform:vpcCidr": "10.0.0.0/8" }), /platform:vpcCidr/);
  assert.match(await programError({ "platform:streamCapacityMode": "SERVERLESS" }), /platform:streamCapacityMode/);
  assert.match(await programError({ "platform:streamShardCount": 0 }), /platform:streamShardCount is 0; a provisioned stream has 1 to 200 shards/);
  assert.match(await programError({ "platform:streamRetentionHours": 12 }), /platform:streamRetentionHours is 12; Kinesis keeps records 24 to 8760 hours/);
  assert.match(await programError({ "platform:streamRetentionHours": 9000 }), /platform:streamRetentionHours is 9000/);
});

test("stream settings: defaults from Pulumi.yaml, each stage its own capacity mode and retention", () => {
  const dev = loadStackConfig(root, "dev").values;
  assert.is(dev["platform:streamCapacityMode"], "PROVISIONED");
  assert.is(dev["platform:streamShardCount"], "1");
  assert.is(dev["platform:streamRetentionHours"], "24");
  const prod = loadStackConfig(root, "prod").values;
  assert.is(prod["platform:streamCapacityMode"], "ON_DEMAND");
  assert.is(prod["platform:streamRetentionHours"], "168");
});

test("a stage that protects its data must name a real alarm recipient; dev may go without", async () => {
  const prodError = await programError({}, "prod");
  assert.match(prodError, /platform:alarmEmail is not set: stage "prod" protects its data \(platform:deletionProtection is true\)/);
  assert.match(prodError, /Set platform:alarmEmail in Pulumi\.prod\.yaml/);
  // The criterion is the data, not the name: any stage with deletion protection needs one, prod always does.
  assert.match(await programError({ "platform:deletionProtection": true }, "dev"), /platform:alarmEmail is not set: stage "dev" protects its data/);
  assert.match(await programError({ "platform:deletionProtection": false }, "prod"), /platform:alarmEmail is not set: stage "prod" protects its data \(prod is a production stage\)/);
  for (const placeholder of ["oncall@example.com", "ops@alerts.example.org", "OPS@EXAMPLE.NET", "alarms@team.test", "me@host.invalid", "root@localhost"]) {
    const message = await programError({ "platform:alarmEmail": placeholder }, "dev");
    assert.match(message, /platform:alarmEmail ".*" is (a placeholder: .*RFC 2606|not an e-mail address)/, placeholder);
  }
  assert.match(await programError({ "platform:alarmEmail": "oncall@example.com" }, "prod"), /platform:alarmEmail "oncall@example.com" is a placeholder: example\.com is reserved/);
  const prod = await runProgram({ projectDir: root, stage: "prod", overrides: { "platform:alarmEmail": "oncall@corp-ops.io" } });
  assert.is(prod.mocks.one("aws:sns/topicSubscription:TopicSubscription", "alarm-email").inputs.endpoint, "oncall@corp-ops.io");
  const dev = await runProgram({ projectDir: root, stage: "dev" });
  assert.equal(dev.mocks.byType("aws:sns/topicSubscription:TopicSubscription").filter((s) => s.inputs.protocol === "email"), []);
});

test("the README's configuration table lists every platform key of Pulumi.yaml with its type and default", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const rows = new Map(
    [...readme.matchAll(/^\| `platform:(\w+)` \| (\w+) \| ([^|]*) \|/gm)].map((m) => [m[1]!, { type: m[2]!, default: m[3]!.trim() }]),
  );
  const declared = (parseYaml(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { config: Record<string, { type: string; default: unknown }> }).config;
  for (const [key, spec] of Object.entries(declared)) {
    const row = rows.get(key);
    assert.ok(row, `platform:${key} is declared in Pulumi.yaml but not in the README's configuration table`);
    assert.is(row!.type, spec.type, `platform:${key} type`);
    const expected = spec.default === "" ? '""' : String(spec.default);
    assert.is(row!.default, expected, `platform:${key} default`);
  }
  assert.equal([...rows.keys()].filter((key) => !(key in declared)), [], "rows for keys Pulumi.yaml does not declare");
});

test("the template ships no placeholder recipient", () => {
  for (const stage of ["dev", "prod"]) {
    const email = loadStackConfig(root, stage).values["platform:alarmEmail"] ?? "";
    assert.not.match(email, /@/, `Pulumi.${stage}.yaml names ${email}`);
  }
});

test("overrides are type-checked like stage files", () => {
  assert.throws(() => loadStackConfig(root, "dev", { overrides: { "platform:vpcEnabled": "yes" } }), /platform:vpcEnabled in overrides must be a boolean/);
});

test("a stack name that cannot be a stage is refused", async () => {
  try {
    await runProgram({ projectDir: root, stage: "Prod_EU", optionalStageFile: true, overrides: { "aws:region": "eu-west-1" } });
    assert.unreachable("accepted");
  } catch (err) {
    assert.match((err as Error).message, /stack name "Prod_EU" is not a valid stage/);
  }
});

test.run();
