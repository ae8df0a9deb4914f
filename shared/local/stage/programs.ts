/**
 * Runs the platform program and then every service program under Pulumi's mocks, as stage `local`, the way
 * `pulumi up` would run them one after another: each service's platform stack reference is answered with the
 * platform run's real outputs.
 */
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { loadStackConfig, serviceProjectDirs } from "../../capture/stack-config";
import { MOCK_ACCOUNT_ID, type CapturedResource } from "../../capture/pulumi-mocks";
import { runProgram, type ProgramRun } from "../../capture/run-program";
import { LOCAL_STAGE, REPO_ROOT } from "./names";
import { relationalOn } from "./relational-preload";

export { LOCAL_STAGE, REPO_ROOT } from "./names";

/** A program that ran. */
export interface ProgramResult {
  /** The Pulumi project name. */
  project: string;
  /** The project folder. */
  dir: string;
  resources: readonly CapturedResource[];
  /** The stack outputs, resolved. */
  outputs: Record<string, unknown>;
  durationMs: number;
}

/** A program failed to run; the message names the project and the program's own error. */
export class ProgramError extends Error {
  override name = "ProgramError";

  constructor(
    /** The Pulumi project that failed. */
    readonly project: string,
    /** The project folder. */
    readonly dir: string,
    cause: unknown,
  ) {
    const detail = cause instanceof Error ? `${cause.name === "Error" ? "" : `${cause.name}: `}${cause.message}` : String(cause);
    super(`the ${project} program (${relative(process.cwd(), dir) || "."}) failed under the local stage: ${detail}`, { cause });
  }
}

/** Every service project: `services/<name>/` folders holding a `Pulumi.yaml`, sorted by name. */
export function discoverServiceDirs(root = REPO_ROOT): string[] {
  return serviceProjectDirs(root);
}

/** Options of {@link runStagePrograms}. */
export interface RunStageProgramsOptions {
  /**
   * The platform project folder.
   * @default the repository root
   */
  platformDir?: string;
  /**
   * Service project folders, run in this order.
   * @default every `services/*` folder with a `Pulumi.yaml`
   */
  serviceDirs?: readonly string[];
  /**
   * `aws:region` of every program (the local stage has no stage files, so nothing else sets it).
   * @default "us-east-1"
   */
  region?: string;
}

/** The platform run and the service runs. */
export interface StagePrograms {
  region: string;
  accountId: string;
  platform: ProgramResult;
  services: ProgramResult[];
}

/**
 * Runs the platform, then each service (one after another: Pulumi's runtime state is global), as stage `local`.
 * A service's `platformStack` config is set to `organization/platform/local` unless its own `Pulumi.local.yaml`
 * names another; either way that reference is answered with this platform run's outputs.
 * @throws ProgramError naming the project whose program failed
 */
export async function runStagePrograms(options: RunStageProgramsOptions = {}): Promise<StagePrograms> {
  const region = options.region ?? "us-east-1";
  const platformDir = options.platformDir ?? REPO_ROOT;
  // The platform runs with its network on (under mocks it costs nothing, and nothing of it is emulated: functions
  // reach the local endpoints directly), so functions with `network: true` start as in a stage with a network.
  const serviceDirs = options.serviceDirs ?? discoverServiceDirs();
  const platform = await runOne(platformDir, { "aws:region": region, ...networkOn(platformDir), ...relationalOn(platformDir, serviceDirs) });
  const services: ProgramResult[] = [];
  for (const dir of serviceDirs) {
    let project: string;
    let platformStack: string;
    try {
      const config = loadStackConfig(dir, LOCAL_STAGE, { optionalStageFile: true });
      project = config.project;
      // A service's own Pulumi.local.yaml may name the platform stack; otherwise the local platform is the one.
      const own = existsSync(join(dir, `Pulumi.${LOCAL_STAGE}.yaml`)) ? config.values[`${project}:platformStack`] : undefined;
      platformStack = own ?? `organization/platform/${LOCAL_STAGE}`;
    } catch (error) {
      throw new ProgramError(dir.split(/[\\/]/).pop() ?? dir, dir, error);
    }
    services.push(
      await runOne(
        dir,
        { "aws:region": region, [`${project}:platformStack`]: platformStack },
        (name) => (name === platformStack ? platform.outputs : undefined),
      ),
    );
  }
  return { region, accountId: MOCK_ACCOUNT_ID, platform, services };
}

/** `<project>:vpcEnabled = true` when the platform project declares that key; nothing otherwise. */
function networkOn(platformDir: string): Record<string, unknown> {
  try {
    const { project, values } = loadStackConfig(platformDir, LOCAL_STAGE, { optionalStageFile: true });
    return `${project}:vpcEnabled` in values ? { [`${project}:vpcEnabled`]: true } : {};
  } catch {
    return {}; // the platform's own run reports what is wrong with its configuration
  }
}

async function runOne(
  dir: string,
  overrides: Record<string, unknown>,
  stackOutputs?: (name: string) => Record<string, unknown> | undefined,
): Promise<ProgramResult> {
  const started = performance.now();
  let project = dir.split(/[\\/]/).pop() ?? dir;
  let run: ProgramRun;
  try {
    project = loadStackConfig(dir, LOCAL_STAGE, { optionalStageFile: true }).project;
    run = await runProgram({
      projectDir: dir,
      stage: LOCAL_STAGE,
      optionalStageFile: true,
      overrides,
      ...(stackOutputs ? { stackOutputs } : {}),
    });
  } catch (error) {
    throw new ProgramError(project, dir, error);
  }
  return {
    project: run.config.project,
    dir,
    resources: run.mocks.resources,
    outputs: run.outputs,
    durationMs: performance.now() - started,
  };
}
