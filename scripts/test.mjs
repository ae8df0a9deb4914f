#!/usr/bin/env node
// Runs every `*.test.ts` file (uvu suites) in its own Node process, a few at a time, so Pulumi's global runtime
// state (mocks, config) never leaks between files. Prints each file's result and a closing
// "N passed, N failed" line; exits non-zero when anything failed.
//
//   node scripts/test.mjs                 all tests
//   node scripts/test.mjs shared/runtime  only files under these paths (folders or test files)
//   node scripts/test.mjs --node <path> shared/runtime
//                                         run them on another Node.js binary (first on PATH for the tests' own
//                                         children too); scripts/node24.mjs runs Lambda's Node.js 24 this way
//
// A file still running after TEST_FILE_TIMEOUT seconds (default 360) is stopped with its children and fails, in one
// line naming it: a test that leaves something holding the event loop (a server, a timer, a client) ends its tests but
// never its process, and would otherwise hold `npm test` for good.
//
// Longest files first: each run records every file's duration in .build/test-durations.json (ignored by git), and the
// next run starts the files that took longest, so the lanes end together instead of one slow file running alone at
// the end. Without a record (a fresh clone) the files known to be slow (SEED below) go first, the rest alphabetically.
// On Linux with GNU time at /usr/bin/time each file's CPU time (user + sys, its child processes included) is printed
// beside its wall time, with the total before the closing line: CPU time is what the cores share.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
let nodeBinary = process.execPath;
const nodeFlag = args.indexOf("--node");
if (nodeFlag !== -1) {
  const given = args[nodeFlag + 1];
  if (!given || given.startsWith("--")) {
    console.error("--node needs the path of a Node.js binary");
    process.exit(1);
  }
  nodeBinary = resolve(given);
  args.splice(nodeFlag, 2);
  try {
    const version = execFileSync(nodeBinary, ["--version"], { encoding: "utf8" }).trim();
    console.log(`on Node.js ${version} (${nodeBinary})`);
  } catch (error) {
    console.error(`--node ${given}: cannot run it (${error.message})`);
    process.exit(1);
  }
}
// With --node, a test that starts `node` by name gets that binary too.
const childPath = nodeFlag === -1 ? {} : { PATH: `${dirname(nodeBinary)}${delimiter}${process.env.PATH ?? ""}` };
const roots = args.length ? args : ["platform", "shared", "services", "generators", "scripts"];
const skipDirs = new Set(["node_modules", ".build", ".git", "templates", ".local"]);

function collect(path, out) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return out;
  if (st.isFile()) {
    if (path.endsWith(".test.ts")) out.push(path);
    return out;
  }
  for (const entry of readdirSync(path)) {
    if (skipDirs.has(entry)) continue;
    collect(join(path, entry), out);
  }
  return out;
}

const found = roots.flatMap((r) => collect(resolve(root, r), [])).sort();
if (found.length === 0) {
  console.error(`no test files under ${roots.join(", ")}`);
  process.exit(1);
}

// Seconds a file took in a run on 2 cores (a loaded one), for the files known to be slow: the order of a run with no
// record yet.
const SEED = {
  "shared/local/test/faults.test.ts": 114,
  "shared/local/test/faults-workflow.test.ts": 45,
  "generators/test/generated.test.ts": 35,
  "shared/local/test/workflows-stage.test.ts": 26,
  "shared/local/test/outbox-crash.test.ts": 23,
  "scripts/test/test-timeout.test.ts": 13,
  "shared/infra/test/pulumi-runner.test.ts": 10,
  "shared/local/test/stage-startup.test.ts": 8,
  "shared/local/test/relational-faults.test.ts": 8,
  "shared/local/test/watch-stage.test.ts": 7,
  "shared/runtime/test/relational-resume.test.ts": 7,
  "shared/local/console/test/browser.test.ts": 7,
  "shared/local/test/stage-relational.test.ts": 6,
  "shared/local/test/stage-persist.test.ts": 6,
};
const durationsFile = join(root, ".build", "test-durations.json");
function readDurations() {
  try {
    const parsed = JSON.parse(readFileSync(durationsFile, "utf8"));
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}
const recorded = readDurations();
const expected = (file) => {
  const name = relative(root, file);
  return recorded[name] ?? SEED[name] ?? 0;
};
// Sorted by expected duration, longest first; ties (files never recorded) stay alphabetical.
const files = found.map((file, i) => ({ file, i, s: expected(file) })).sort((a, b) => b.s - a.s || a.i - b.i).map((f) => f.file);
const measured = {};

// GNU time wraps each file when it is there (Linux): it reports the CPU time of the file's whole process tree.
const gnuTime = process.platform === "linux" && existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
const cpuDir = gnuTime ? mkdtempSync(join(tmpdir(), "test-cpu-")) : undefined;
let cpuTotal = 0;
let cpuFiles = 0;
let cpuSerial = 0;
function readCpu(path) {
  try {
    const line = readFileSync(path, "utf8").trim().split("\n").at(-1) ?? "";
    const m = /^([\d.]+) ([\d.]+)$/.exec(line);
    return m ? Number(m[1]) + Number(m[2]) : undefined;
  } catch {
    return undefined;
  }
}

const timeoutVar = process.env.TEST_FILE_TIMEOUT;
const fileTimeoutS = timeoutVar === undefined || timeoutVar === "" ? 360 : Number(timeoutVar);
if (!(fileTimeoutS > 0)) {
  console.error(`TEST_FILE_TIMEOUT must be a number of seconds above 0 (got ${JSON.stringify(timeoutVar)})`);
  process.exit(1);
}
const concurrency = Math.max(1, Math.min(Number(process.env.TEST_CONCURRENCY) || availableParallelism(), 4));
let passed = 0;
let failed = 0;
const failures = [];

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const cpuOut = cpuDir ? join(cpuDir, `${cpuSerial++}.txt`) : undefined;
    const [command, commandArgs] = gnuTime
      ? [gnuTime, ["-f", "%U %S", "-o", cpuOut, nodeBinary, "--import", "tsx", file]]
      : [nodeBinary, ["--import", "tsx", file]];
    const child = spawn(command, commandArgs, {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: "0", ...childPath },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a file that runs too long is stopped with whatever it started.
      detached: true,
    });
    running.add(child);
    let timedOut = false;
    const bound = setTimeout(() => {
      timedOut = true;
      stopGroup(child);
    }, fileTimeoutS * 1000);
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => {
      clearTimeout(bound);
      running.delete(child);
      if (timedOut) {
        const name = relative(root, file);
        if (!name.startsWith("..")) measured[name] = fileTimeoutS;
        const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? 0);
        const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
        passed += ok;
        failed += Math.max(1, total - ok);
        const after = total > 0 ? ` (its tests had ended: ${ok}/${total} passed; something kept the process alive)` : "";
        console.log(`✘ ${name}  still running after ${fileTimeoutS}s (TEST_FILE_TIMEOUT), stopped${after}`);
        failures.push({ name, output });
        resolve();
        return;
      }
      // A file whose tests need something this machine lacks (Chromium for the console's browser tests) prints
      // "unavailable: <what is missing>" and runs nothing: said in one line, counted neither way. CI sets the
      // variables that make such a file fail instead (REQUIRE_BROWSER=1).
      const unavailable = /^unavailable: (.+)$/m.exec(output)?.[1];
      if (code === 0 && unavailable && !/Total:\s+\d+/.test(output)) {
        console.log(`- ${relative(root, file)}: ${unavailable}`);
        resolve();
        return;
      }
      const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? 0);
      const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
      // uvu exits 0 when a test.before hook throws (its error is swallowed and no test runs): every test that did not
      // pass counts, whatever the exit code.
      const bad = code === 0 && total > 0 && ok === total ? 0 : Math.max(1, total - ok);
      const notRun = total - ok - (output.match(/^\s+FAIL /gm)?.length ?? 0);
      passed += ok;
      failed += bad;
      const name = relative(root, file);
      const wall = (Date.now() - started) / 1000;
      if (!name.startsWith("..")) measured[name] = Math.round(wall * 10) / 10;
      const cpu = cpuOut ? readCpu(cpuOut) : undefined;
      if (cpu !== undefined) {
        cpuTotal += cpu;
        cpuFiles++;
      }
      const secs = `${wall.toFixed(1)}s${cpu === undefined ? "" : `, cpu ${cpu.toFixed(1)}s`}`;
      if (bad) {
        failures.push({ name, output });
        const note = total === 0 ? " ran no test" : notRun > 0 ? ` ${notRun} did not run (a test.before hook threw?)` : "";
        console.log(`✘ ${name}  ${ok}/${total} (${secs})${note}`);
      } else {
        console.log(`✔ ${name}  ${ok} (${secs})`);
      }
      resolve();
    });
  });
}

const running = new Set();
function stopGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}
// The files run in process groups of their own, which an interrupt of `npm test` no longer reaches: pass it on.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of running) stopGroup(child);
    process.exit(130);
  });
}

const queue = [...files];
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (queue.length) await runFile(queue.shift());
  }),
);

// The durations of this run join those on record (read again now: a run on a few files may have ended meanwhile),
// written whole through a rename so a concurrent reader never sees half a file.
if (Object.keys(measured).length) {
  try {
    mkdirSync(dirname(durationsFile), { recursive: true });
    const next = join(dirname(durationsFile), `.test-durations.${process.pid}.json`);
    // Files that are gone (renamed, deleted) leave the record.
    const kept = Object.entries({ ...readDurations(), ...measured }).filter(([name]) => existsSync(join(root, name)));
    writeFileSync(next, `${JSON.stringify(Object.fromEntries(kept), null, 1)}\n`);
    renameSync(next, durationsFile);
  } catch (error) {
    console.log(`(durations not recorded: ${error.message})`);
  }
}
if (cpuDir) rmSync(cpuDir, { recursive: true, force: true });

for (const { name, output } of failures) {
  console.log(`\n──── ${name} ────\n${output.trim()}`);
}
if (cpuFiles) console.log(`\ncpu ${cpuTotal.toFixed(1)}s (user + sys of ${cpuFiles} files)`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
