/**
 * Node.js Lambda runtimes this template deploys: the ones AWS supports without a deprecation date announced
 * (nodejs20.x is deprecated on 30 April 2026). The guardrail rule `lambda-current-runtime` accepts only these.
 */
export const CURRENT_NODEJS_RUNTIMES = ["nodejs22.x", "nodejs24.x"] as const;
export type NodejsRuntime = (typeof CURRENT_NODEJS_RUNTIMES)[number];
/** The newest Node.js runtime @pulumi/aws 7.48 knows (`aws.lambda.Runtime.NodeJS24dX`). */
export const DEFAULT_RUNTIME: NodejsRuntime = "nodejs24.x";

export function isCurrentRuntime(runtime: unknown): runtime is NodejsRuntime {
  return (CURRENT_NODEJS_RUNTIMES as readonly unknown[]).includes(runtime);
}

/** The esbuild target matching a Lambda runtime (`nodejs24.x` -> `node24`). */
export function esbuildTarget(runtime: NodejsRuntime): string {
  return `node${runtime.slice("nodejs".length, -".x".length)}`;
}
