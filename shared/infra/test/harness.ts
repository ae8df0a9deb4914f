import * as pulumi from "@pulumi/pulumi";
import { REPO_ROOT } from "../helpers/bundle";
import { parsePolicy, type PolicyDocument } from "../helpers/policy-document";
import { PlatformReference } from "../platform-reference";
import { useStageProvider } from "../stage-provider";
import { PlatformMocks, type CapturedResource } from "../../capture/pulumi-mocks";
import { runProgram } from "../../capture/run-program";

/** The platform stack every test service references (as `Pulumi.<stage>.yaml` of a service names it). */
export const PLATFORM_STACK = "organization/platform/dev";

/** Runs the real platform program (repository root) under mocks and returns its resolved stack outputs. */
export async function platformOutputs(stage = "dev"): Promise<Record<string, any>> {
  const run = await runProgram({ projectDir: REPO_ROOT, stage });
  return run.outputs;
}

export interface MockedRun<T> {
  mocks: PlatformMocks;
  result: T;
}

/**
 * Builds components in a fresh mocked stack whose platform reference answers with `platform` (the real platform
 * program's outputs), waits until every registration has resolved, and returns what the mocks captured.
 */
export async function underMocks<T>(
  build: (platform: PlatformReference) => T,
  options: {
    platform: Record<string, unknown>;
    project?: string;
    stage?: string;
    region?: string;
    /** Tag the stack's AWS resources as a service program does (`useStageProvider(project)` first). @default true */
    stageProvider?: boolean;
  },
): Promise<MockedRun<T>> {
  const project = options.project ?? "infra-test";
  const stage = options.stage ?? "dev";
  const region = options.region ?? "eu-west-1";
  pulumi.runtime.setAllConfig({ "aws:region": region, [`${project}:platformStack`]: PLATFORM_STACK });
  const mocks = new PlatformMocks({
    region,
    stackOutputs: (name) => (name === PLATFORM_STACK ? options.platform : undefined),
  });
  await mocks.install(project, stage);
  let result: T | undefined;
  let failure: { error: unknown } | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    // A construction error is handed back to the test, not left to Pulumi's stack (which would report it as an
    // unhandled rejection after the test has finished).
    try {
      if (options.stageProvider !== false) useStageProvider(project);
      result = build(new PlatformReference("platform", { stack: PLATFORM_STACK }));
    } catch (error) {
      failure = { error };
    }
    return {};
  });
  await (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs?.();
  if (failure) throw failure.error;
  return { mocks, result: result as T };
}

/** The one captured resource of a type and logical name; fails with the names that exist. */
export function one(mocks: PlatformMocks, type: string, name: string): CapturedResource {
  return mocks.one(type, name);
}

/** The policy document a captured resource holds in `field` (JSON text in the inputs). */
export function policyDocument(resource: CapturedResource, field = "policy"): PolicyDocument {
  const document = parsePolicy(resource.inputs[field]);
  if (!document) throw new Error(`${resource.type} ${resource.name} has no policy document in ${field}`);
  return document;
}

/** Resolves an Output in a test (values are known under mocks). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}
