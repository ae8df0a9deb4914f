import type { CapturedResource } from "./pulumi-mocks";
import { runProgram, type ProgramRun } from "./run-program";
import { loadStackConfig, serviceProjectDirs } from "./stack-config";

export interface ServiceRun {
  projectDir: string;
  /** The service's Pulumi project name. */
  project: string;
  /** The platform stack its stage config names (`platformStack`). */
  platformStack: string;
  run: ProgramRun;
}

export interface SystemRun {
  stage: string;
  platform: ProgramRun;
  services: ServiceRun[];
}

export interface RunSystemOptions {
  /** Folder of the platform project (the repository root). */
  root: string;
  stage: string;
  /** Service project folders, run in this order. @default every `services/*` folder under `root` with a `Pulumi.yaml` */
  serviceDirs?: string[];
  /** Config values to change for the platform's run (`undefined` removes a key). */
  platformOverrides?: Record<string, unknown>;
}

/**
 * Runs a whole system for one stage under mocks, the way it deploys: the platform program, then every service
 * program, each service's stack reference answered with the platform run's real outputs. Programs run one after
 * another (Pulumi's runtime state is global).
 */
export async function runSystem(options: RunSystemOptions): Promise<SystemRun> {
  const { root, stage } = options;
  const platform = await runProgram({ projectDir: root, stage, overrides: options.platformOverrides });
  const services: ServiceRun[] = [];
  for (const projectDir of options.serviceDirs ?? serviceProjectDirs(root)) {
    const config = loadStackConfig(projectDir, stage);
    const platformStack = config.values[`${config.project}:platformStack`];
    if (!platformStack) throw new Error(`${projectDir}: Pulumi.${stage}.yaml does not set ${config.project}:platformStack`);
    const run = await runProgram({
      projectDir,
      stage,
      stackOutputs: (name) => (name === platformStack ? platform.outputs : undefined),
    });
    services.push({ projectDir, project: config.project, platformStack, run });
  }
  return { stage, platform, services };
}

/** Every program run of a system with its label, for checks that apply to each stack alike (guardrails). */
export function stacksOf(system: SystemRun): { label: string; resources: CapturedResource[] }[] {
  return [
    { label: `platform (${system.stage})`, resources: system.platform.mocks.resources },
    ...system.services.map((s) => ({ label: `${s.project} (${system.stage})`, resources: s.run.mocks.resources })),
  ];
}

/** Every `arn:` string anywhere in a value. */
export function arnsIn(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (typeof value === "string") {
    if (value.startsWith("arn:")) into.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) arnsIn(item, into);
  } else if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) arnsIn(item, into);
  }
  return into;
}

/** The ARNs of the resources a program created (what AWS would answer for them). */
export function resourceArns(resources: readonly CapturedResource[]): Set<string> {
  return new Set(resources.map((r) => r.state.arn).filter((arn): arn is string => typeof arn === "string"));
}
