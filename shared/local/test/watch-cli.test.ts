// Watch mode from the command line: `npm start` watches by default and its ready line says so; `--no-watch` turns
// it off; Ctrl-C stops the watch with the stage (exit 0).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseArgs, readyLine } from "../cli";
import type { LocalStage } from "../stage";

const stageLike = {
  startupMs: 1200,
  url: "http://127.0.0.1:3000",
  adminUrl: "http://127.0.0.1:3000/_local/",
  routes: [],
  consumers: [],
  services: ["orders"],
  endpoints: { sns: "http://127.0.0.1:4000", sqs: "http://127.0.0.1:4000", dynamodb: "http://127.0.0.1:5000" },
  storage: "memory",
} as unknown as LocalStage;

test("--no-watch is a flag of start; the ready line says whether the stage watches the code", () => {
  assert.equal(parseArgs(["--no-watch"]), { command: "start", args: [], flags: { "no-watch": true } });
  assert.equal(parseArgs(["start", "--port", "0"]).flags["no-watch"], undefined);
  assert.match(readyLine(stageLike, { watching: true }), / \| watching the code \(--no-watch turns it off\) \| Ctrl-C stops$/);
  assert.match(readyLine(stageLike), / \| not watching the code \| Ctrl-C stops$/);
});

test("npm start watches by default: the ready line says so, and Ctrl-C stops it cleanly", async () => {
  // One service (--services): what is checked is the ready line and the stop, not the programs.
  const cli = spawn(process.execPath, ["--import", "tsx", join(__dirname, "..", "cli.ts"), "--port", "0", "--quiet", "--services", "orders"], {
    cwd: join(__dirname, "..", "..", ".."),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  cli.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  cli.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => cli.on("close", resolve));
  try {
    // A bound, not a measure: the start bundles every service's functions.
    const deadline = Date.now() + 90_000;
    while (!/local stage ready in .*\n/.test(stdout)) {
      if (cli.exitCode !== null) throw new Error(`the CLI exited before its ready line:\n${stdout}\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`no ready line:\n${stdout}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(stdout, /\| watching the code \(--no-watch turns it off\) \| Ctrl-C stops\n/);
    cli.kill("SIGINT");
    assert.is(await exited, 0, `exit code (stderr: ${stderr})`);
  } finally {
    if (cli.exitCode === null) cli.kill("SIGKILL");
  }
});

test.run();
