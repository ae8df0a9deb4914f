// First: @pulumi/pulumi then loads its function-serialization packages only if a program uses them.
import "./defer-modules";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, type StackConfig } from "./stack-config";
import { PlatformMocks, type PlatformMocksOptions } from "./pulumi-mocks";

export interface RunProgramOptions {
  /** Folder holding the project's `Pulumi.yaml`. */
  projectDir: string;
  stage: string;
  /** Config values to change for this run (`"platform:logLevel": "WARN"`; `undefined` removes a key). */
  overrides?: Record<string, unknown>;
  /** Accept a stage without a `Pulumi.<stage>.yaml` (defaults only), as the local stage does. */
  optionalStageFile?: boolean;
  stackOutputs?: PlatformMocksOptions["stackOutputs"];
  accountId?: string;
}

export interface ProgramRun {
  config: StackConfig;
  mocks: PlatformMocks;
  /** The stack outputs, fully resolved, as `pulumi stack output --json` would show them. */
  outputs: Record<string, any>;
}

/** A Pulumi program module: `export = function program() { ... return outputs }`. */
type ProgramModule = () => unknown;

function loadProgram(main: string): ProgramModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded: unknown = require(main);
  const program = typeof loaded === "function" ? loaded : (loaded as { default?: unknown }).default;
  if (typeof program !== "function") {
    throw new Error(`${main} must export its program as a function (export = function program() { ... })`);
  }
  return program as ProgramModule;
}

/**
 * Runs a Pulumi program in this process under mocks, the way `pulumi up` would run it for `stage`: the project's
 * declared defaults merged with `Pulumi.<stage>.yaml`, the program started in its project folder, its stack outputs
 * resolved. Programs run one after another (Pulumi's runtime state is global): never run two at once.
 */
export async function runProgram(options: RunProgramOptions): Promise<ProgramRun> {
  const config = loadStackConfig(options.projectDir, options.stage, {
    optionalStageFile: options.optionalStageFile,
    overrides: options.overrides,
  });
  const region = config.values["aws:region"];
  if (!region) throw new Error(`aws:region is not set for stage ${options.stage} of ${config.project}`);
  pulumi.runtime.setAllConfig(config.values);
  const mocks = new PlatformMocks({ region, accountId: options.accountId, stackOutputs: options.stackOutputs });
  await mocks.install(config.project, options.stage);

  const previousDir = process.cwd();
  process.chdir(options.projectDir);
  const restoreStacks = plainStackTraces();
  try {
    const program = loadProgram(config.main);
    // A program that throws must fail this call, not the process: Pulumi treats an error escaping the stack's
    // initialisation as fatal, so catch it inside and rethrow once the stack has settled.
    let failure: { error: unknown } | undefined;
    // An error inside an Output (an `apply` that throws while a resource's inputs are resolved) reaches no caller:
    // Pulumi leaves the registration's promise rejected. Such a rejection fails this run, as it fails `pulumi up`.
    // What waits on the failed registration would wait forever: stop waiting at the first such rejection.
    let stop!: (reason: unknown) => void;
    const stopped = new Promise<never>((_, reject) => (stop = reject));
    stopped.catch(() => undefined);
    const onRejection = (reason: unknown) => {
      failure ??= { error: reason };
      stop(reason);
    };
    process.on("unhandledRejection", onRejection);
    try {
      const outputs =
        (await Promise.race([
          pulumi.runtime.runInPulumiStack(async () => {
            try {
              return await program();
            } catch (error) {
              failure = { error };
              return {};
            }
          }),
          stopped,
        ])) ?? {};
      await Promise.race([(pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs?.(), stopped]);
      // Rejections are reported after the microtasks that created them: give them one turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      if (failure) throw failure.error;
      return { config, mocks, outputs: JSON.parse(JSON.stringify(outputs)) };
    } finally {
      process.off("unhandledRejection", onRejection);
    }
  } finally {
    restoreStacks();
    process.chdir(previousDir);
  }
}

/**
 * Pulumi formats a whole stack trace for every resource it registers (its source position: `Resource.callsites` with
 * no frame limit) and for every promise it tracks (`debuggablePromise`). Under a source-mapped loader (tsx) Node maps
 * each frame through the source maps, which made this about a quarter of a local stage's program time. While a program
 * runs, stacks are formatted as V8 formats them without source maps (the same `at fn (file:line:column)` frames Pulumi
 * parses), only the frames Pulumi reads ({@link PULUMI_FRAMES}); Node's own formatting is put back afterwards. A stack is
 * formatted when first read: an error read after the run (a failing program's, printed by the caller) is still
 * source-mapped and whole.
 * @returns puts Node's formatting back
 */
export function plainStackTraces(): () => void {
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = formatPlainStack;
  return () => {
    if (Error.prepareStackTrace === formatPlainStack) Error.prepareStackTrace = previous;
  };
}

/**
 * Frames formatted while a program runs: errors get 12 (read after the run, they get Node's whole, source-mapped
 * stack). Pulumi's own captures get what Pulumi reads of them: `Resource.callsites` asks for every frame (tens, with
 * async frames) but takes its source position from the fifth (it skips 4), so 6; `debuggablePromise` keeps a stack on
 * every promise it makes only for its leak report's debug mode (PULUMI_DEBUG_PROMISE_LEAKS), so none. Formatting them whole was
 * a third of the programs' time in the local stage's start.
 */
const PROGRAM_STACK_FRAMES = 12;
const PULUMI_FRAMES: Record<string, number> = { callsites: 6, debuggablePromise: 0 };

function formatPlainStack(error: Error, frames: NodeJS.CallSite[]): string {
  let text = "";
  try {
    text = String(error);
  } catch {
    text = "<error>";
  }
  const limit = PULUMI_FRAMES[frames[0]?.getFunctionName() ?? ""] ?? PROGRAM_STACK_FRAMES;
  for (const frame of frames.slice(0, limit)) text += `\n    at ${String(frame)}`;
  return text;
}
