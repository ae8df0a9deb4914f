#!/usr/bin/env node
// `npm run test:integration [-- --stage <stage>]`: the integration tests against the local stage (default) or a
// deployed stage. For a deployed stage they read its stack outputs with the Pulumi CLI and its data with the usual
// AWS credentials; CI_BUILD_ID (or GITHUB_RUN_ID) becomes the correlation id of everything they cause.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
let stage = process.env.STAGE ?? "local";
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--stage" && args[i + 1]) stage = args[++i];
  else if (args[i]?.startsWith("--stage=")) stage = args[i].slice("--stage=".length);
  else {
    console.error(`unknown argument ${args[i]}; usage: npm run test:integration [-- --stage <stage>]`);
    process.exit(2);
  }
}
if (!/^[a-z][a-z0-9-]{0,19}$/.test(stage)) {
  console.error(`"${stage}" is not a stage name (dev, prod, ci-1234, local)`);
  process.exit(2);
}
console.log(`integration tests against stage ${stage}`);
const root = new URL("..", import.meta.url).pathname;
const result = spawnSync(process.execPath, ["scripts/test.mjs", "shared/testing/integration"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, STAGE: stage },
});
process.exit(result.status ?? 1);
