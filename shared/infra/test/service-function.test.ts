import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENV } from "../../contract";
import { functionBuilds, REPO_ROOT } from "../helpers/bundle";
import { evaluateGuardrails } from "../guardrails";
import { PlatformContractError, platformNetwork } from "../platform-reference";
import { buildBundlesUnderMocks, SERVICE_FUNCTION_TYPE, ServiceFunction, type ServiceFunctionArgs } from "../service-function";
import { runProgram } from "../../capture/run-program";
import { platformOutputs, policyDocument, underMocks } from "./harness";

const FIXTURES = join(__dirname, "fixtures", "handlers");
// A service name of its own: test files run in parallel and each writes its own bundles.
const SERVICE = "fn-test";
let platform: Record<string, any>;

test.before(async () => {
  platform = await platformOutputs("dev");
});

function build(name: string, args: Partial<ServiceFunctionArgs> = {}) {
  return underMocks((p) => new ServiceFunction(name, { platform: p, service: SERVICE, handler: join(FIXTURES, "echo.ts"), ...args }), { platform });
}

test("deploys the handler's bundle (.build/functions/<hash>/index.mjs: ESM, tree-shaken, no Pulumi code, runnable) with its content hash", async () => {
  buildBundlesUnderMocks(true);
  let captured;
  try {
    captured = await build("echo");
  } finally {
    buildBundlesUnderMocks(false);
  }
  const fn = captured.mocks.one("aws:lambda/function:Function", "echo-function");
  const bundle = await functionBuilds.build({ entry: join(FIXTURES, "echo.ts"), settings: { target: "node24" } });
  assert.ok(bundle.cached, "the program built it; asking again runs no esbuild");
  assert.is(fn.inputs.sourceCodeHash, bundle.hash, "the function's source code hash is the bundle's content hash");
  assert.ok(bundle.dir.startsWith(join(REPO_ROOT, ".build", "functions")), bundle.dir);
  const file = bundle.file;
  assert.ok(existsSync(file), `${file} exists`);
  const code = readFileSync(file, "utf8");
  assert.not.match(code, /@pulumi/);
  assert.not.match(code, /TREE_SHAKEN_MARKER/, "an export the handler does not use is shaken out");
  assert.match(code, /export\s*\{/, "the bundle is an ES module");
  const bundled = (await import(pathToFileURL(file).href)) as { handler: (e: unknown) => Promise<unknown> };
  assert.equal(await bundled.handler({ Records: [{ messageId: "m1", body: "" }, { messageId: "m2", body: "x" }] }), {
    batchItemFailures: [{ itemIdentifier: "m1" }],
  });
});

test("registers service, function name and entry (relative to the repository root) as the component's inputs", async () => {
  const { mocks } = await build("echo-fn", { name: "echo" });
  const component = mocks.one(SERVICE_FUNCTION_TYPE, "echo-fn");
  assert.equal(component.custom, false);
  assert.equal(component.inputs, {
    service: SERVICE,
    name: "echo",
    entry: "shared/infra/test/fixtures/handlers/echo.ts",
    export: "handler",
    file: "index.mjs",
    runtime: "nodejs24.x",
    settings: { target: "node24" },
  });
});

test("under mocks the program builds no bundle: no esbuild run, an empty archive, no source code hash", async () => {
  const before = { ...functionBuilds.stats };
  const { mocks } = await build("echo-unbuilt", { handler: join(FIXTURES, "echo.ts") });
  assert.equal(functionBuilds.stats, before, "the build service was not asked");
  const fn = mocks.one("aws:lambda/function:Function", "echo-unbuilt-function");
  assert.is(fn.inputs.sourceCodeHash, undefined);
  assert.is(fn.inputs.handler, "index.handler");
});

test("a handler that pulls in Pulumi, or lacks its export, is refused by the build with a message that names it", async () => {
  const cases: [Parameters<typeof functionBuilds.build>[0], RegExp][] = [
    [{ entry: join(FIXTURES, "imports-pulumi.ts"), label: "fn-test/broken" }, /imports-pulumi\.ts of fn-test\/broken pulls Pulumi into its bundle/],
    [{ entry: join(FIXTURES, "echo.ts"), exportName: "main", label: "fn-test/broken" }, /echo\.ts of fn-test\/broken does not export "main" \(it exports handler/],
  ];
  for (const [request, message] of cases) {
    try {
      await functionBuilds.build(request);
      assert.unreachable(`expected ${message}`);
    } catch (err) {
      assert.match((err as Error).message, message);
    }
  }
});

test("the function: current Node.js on ARM64, explicit timeout and memory, active tracing, JSON logs into its own group", async () => {
  const { mocks } = await build("echo", { timeout: 20, memory: 1024 });
  const fn = mocks.one("aws:lambda/function:Function", "echo-function");
  assert.equal(fn.inputs.name, `dev-${SERVICE}-echo`);
  assert.equal(fn.inputs.runtime, "nodejs24.x");
  assert.equal(fn.inputs.architectures, ["arm64"]);
  assert.equal(fn.inputs.handler, "index.handler");
  assert.equal(fn.inputs.timeout, 20);
  assert.equal(fn.inputs.memorySize, 1024);
  assert.equal(fn.inputs.tracingConfig, { mode: platform.tracing.mode });
  assert.equal(fn.inputs.code.__pulumiArchive, true, "deployed as an archive of the bundle folder");
  const logs = mocks.one("aws:cloudwatch/logGroup:LogGroup", "echo-logs");
  assert.equal(logs.inputs.name, `/aws/lambda/dev-${SERVICE}-echo`);
  assert.equal(logs.inputs.retentionInDays, platform.logs.retentionDays);
  assert.equal(fn.inputs.loggingConfig, {
    logFormat: "JSON",
    logGroup: logs.inputs.name,
    applicationLogLevel: platform.logs.level,
    systemLogLevel: "INFO",
  });
  assert.equal(fn.inputs.role, mocks.one("aws:iam/role:Role", "echo-role").state.arn);
});

test("the environment carries the platform contract the runtime reads, and only what the function may use", async () => {
  const { mocks } = await build("echo", { publishes: ["orders.order-placed"], data: "none", environment: { FEATURE: "on" } });
  const variables = mocks.one("aws:lambda/function:Function", "echo-function").inputs.environment.variables;
  assert.equal(variables, {
    FEATURE: "on",
    [ENV.stage]: "dev",
    [ENV.service]: SERVICE,
    [ENV.handler]: "echo",
    [ENV.logLevel]: platform.logs.level,
    [ENV.publishTopics]: JSON.stringify({ "orders.order-placed": platform.eventTopics["orders.order-placed"].arn }),
  });
});

test("its role trusts Lambda only and holds exactly the statements its access needs", async () => {
  const { mocks } = await build("echo", { publishes: [], data: "read", idempotency: false });
  const role = mocks.one("aws:iam/role:Role", "echo-role");
  assert.equal(role.inputs.name, `dev-${SERVICE}-echo`);
  assert.equal(policyDocument(role, "assumeRolePolicy").Statement, [
    { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
  ]);
  const policy = mocks.one("aws:iam/rolePolicy:RolePolicy", "echo-policy");
  assert.equal(policy.inputs.role, role.state.name);
  const logGroupArn = mocks.one("aws:cloudwatch/logGroup:LogGroup", "echo-logs").state.arn;
  const table = platform.dataTable.arn;
  const prefix = { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`$${SERVICE}#*`] }, Null: { "dynamodb:LeadingKeys": "false" } };
  assert.equal(policyDocument(policy).Statement, [
    { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `${logGroupArn}:*` },
    { Sid: "SendTraces", Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: "*" },
    { Sid: "OwnItems", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"], Resource: table, Condition: prefix },
    { Sid: "QueryOwnIndexes", Effect: "Allow", Action: "dynamodb:Query", Resource: [`${table}/index/gsi1`, `${table}/index/gsi2`], Condition: prefix },
  ]);
  assert.equal(mocks.byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment"), [], "no managed policy attachments");
});

test("network: true puts the function in the platform's private subnets and group, and lets Lambda manage its interfaces there", async () => {
  const platformRun = await runProgram({ projectDir: REPO_ROOT, stage: "dev", overrides: { "platform:vpcEnabled": true } });
  const networked = platformRun.outputs;
  const { mocks } = await underMocks(
    (p) => new ServiceFunction("in-vpc", { platform: p, service: SERVICE, handler: join(FIXTURES, "echo.ts"), publishes: [], data: "none", network: true, reservedConcurrency: 2 }),
    { platform: networked },
  );
  const fn = mocks.one("aws:lambda/function:Function", "in-vpc-function");
  assert.equal(fn.inputs.vpcConfig, { subnetIds: networked.vpc.privateSubnetIds, securityGroupIds: [networked.vpc.securityGroupId] });
  const [, , , region, account] = String(networked.dataTable.arn).split(":");
  const ec2 = (type: string, id: string) => `arn:aws:ec2:${region}:${account}:${type}/${id}`;
  const statements = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "in-vpc-policy")).Statement;
  assert.equal(statements.filter((st) => String(st.Sid).includes("Network")), [
    {
      Sid: "CreateNetworkInterfaces",
      Effect: "Allow",
      Action: "ec2:CreateNetworkInterface",
      Resource: [ec2("network-interface", "*"), ...networked.vpc.privateSubnetIds.map((id: string) => ec2("subnet", id)), ec2("security-group", networked.vpc.securityGroupId)],
    },
    {
      Sid: "ManageNetworkInterfaces",
      Effect: "Allow",
      Action: ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
      // Lambda's developer guide: every resource id of the account and region, or CreateFunction fails.
      Resource: `arn:aws:ec2:${region}:${account}:*/*`,
    },
    { Sid: "DescribeNetwork", Effect: "Allow", Action: ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], Resource: "*" },
  ]);
  // The platform with its network and the function in it pass every guardrail.
  assert.equal(await evaluateGuardrails(platformRun.mocks.resources), []);
  assert.equal(await evaluateGuardrails(mocks.resources), []);
  // Without network: no VPC settings and no EC2 statements.
  const { mocks: plain } = await underMocks(
    (p) => new ServiceFunction("outside", { platform: p, service: SERVICE, handler: join(FIXTURES, "echo.ts"), publishes: [], data: "none" }),
    { platform: networked },
  );
  assert.is(plain.one("aws:lambda/function:Function", "outside-function").inputs.vpcConfig, undefined);
  assert.not.ok(policyDocument(plain.one("aws:iam/rolePolicy:RolePolicy", "outside-policy")).Statement.some((st) => JSON.stringify(st).includes("ec2:")));
});

test("network: true on a platform stage without a network fails, naming the function, the stack and the setting", () => {
  // The check runs on the platform's outputs during the deployment (`pulumi up` reports it for vpcConfig).
  assert.throws(
    () => platformNetwork("acme/platform/dev", { enabled: false }, "function fn-test/no-vpc"),
    (error: Error) =>
      error instanceof PlatformContractError &&
      error.message ===
        'function fn-test/no-vpc runs in the platform\'s network, but platform stack "acme/platform/dev" has none: ' +
          "set platform:vpcEnabled to true in the platform's stage file and deploy the platform first",
  );
  assert.throws(() => platformNetwork("s", { enabled: true, vpcId: "vpc-1", privateSubnetIds: [], securityGroupId: "sg-1" }, "f"), /has none/);
  assert.equal(platformNetwork("s", { enabled: true, vpcId: "vpc-1", privateSubnetIds: ["subnet-1"], securityGroupId: "sg-1" }, "f"), {
    vpcId: "vpc-1",
    privateSubnetIds: ["subnet-1"],
    securityGroupId: "sg-1",
  });
});

test("every child is parented to the component and named after it", async () => {
  const { mocks } = await build("echo");
  const component = mocks.one(SERVICE_FUNCTION_TYPE, "echo");
  const children = mocks.childrenOf(component.urn);
  assert.equal(children.map((c) => c.name).sort(), ["echo-function", "echo-logs", "echo-policy", "echo-role"]);
});

test("transforms adjust a child: an object replaces fields, a function edits the args", async () => {
  const { mocks } = await build("echo", {
    transform: {
      function: { memorySize: 2048 },
      role: (args) => {
        args.description = "changed by a transform";
      },
    },
  });
  assert.equal(mocks.one("aws:lambda/function:Function", "echo-function").inputs.memorySize, 2048);
  assert.equal(mocks.one("aws:iam/role:Role", "echo-role").inputs.description, "changed by a transform");
});

test("refuses what would not deploy or would break the contract, with a message that says why", async () => {
  const cases: [Partial<ServiceFunctionArgs>, RegExp][] = [
    [{ handler: join(FIXTURES, "missing.ts") }, /missing\.ts .* does not exist/],
    [{ timeout: 0 }, /timeout is 0; Lambda accepts a whole number from 1 to 900/],
    [{ memory: 64 }, /memory is 64/],
    [{ runtime: "nodejs20.x" as never }, /nodejs20.x is not a current Node.js runtime/],
    [{ environment: { [ENV.stage]: "x" } }, /PLATFORM_STAGE is set by the platform/],
    [{ publishes: ["orders.unknown" as never] }, /"orders.unknown", which is not in the event catalog/],
    [{ name: "Not_Kebab" }, /must be kebab-case/],
    [{ name: "a-function-name-long-enough-to-break-the-64-character-limit" }, /function name "dev-fn-test-a-function.*" is \d+ characters; AWS allows at most 64/],
  ];
  for (const [args, message] of cases) {
    try {
      await build("broken", args);
      assert.unreachable(`expected ${message}`);
    } catch (err) {
      assert.match((err as Error).message, message);
    }
  }
});

test.run();
