// Starts a Pulumi program the way `pulumi up` does (the language host runs `@pulumi/pulumi/cmd/run` in the project
// folder, with `nodeargs: --import tsx` and the stack's config in PULUMI_CONFIG), against Pulumi's mock monitor
// instead of an engine. Prints one line `CAPTURED <json>` with what the program registered.
//
//   PULUMI_CONFIG='{"aws:region":"eu-west-1",...}' PLATFORM_OUTPUTS=<file> \
//     node --import tsx run-like-pulumi.ts <projectDir> <project> <stack> <main>
import { readFileSync, writeSync } from "node:fs";
import { PlatformMocks } from "../../../capture/pulumi-mocks";

const [projectDir, project, stack, main] = process.argv.slice(2);
if (!projectDir || !project || !stack || !main) {
  throw new Error("usage: run-like-pulumi.ts <projectDir> <project> <stack> <main>");
}
const config = JSON.parse(process.env.PULUMI_CONFIG ?? "{}") as Record<string, string>;
const region = config["aws:region"];
if (!region) throw new Error("PULUMI_CONFIG has no aws:region");
const outputsFile = process.env.PLATFORM_OUTPUTS;
const platformOutputs = outputsFile ? (JSON.parse(readFileSync(outputsFile, "utf8")) as Record<string, unknown>) : undefined;

const mocks = new PlatformMocks({ region, stackOutputs: () => platformOutputs });

process.on("exit", (code) => {
  const captured = mocks.resources.map((r) => ({ type: r.type, name: r.name, parent: r.parent, custom: r.custom }));
  writeSync(1, `CAPTURED ${JSON.stringify({ code, resources: captured })}\n`);
});

void mocks.install(project, stack).then(() => {
  process.argv = [process.argv[0] as string, "run", "--monitor=mock", `--project=${project}`, `--stack=${stack}`, `--pwd=${projectDir}`, main];
  require("@pulumi/pulumi/cmd/run");
});
