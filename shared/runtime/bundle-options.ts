import type { BuildOptions } from "esbuild";

/** Choices a function's bundle may change; the rest is fixed so every function is built the same way. */
export interface BundleSettings {
  /**
   * Leave `@aws-sdk/*` out of the bundle and load the AWS SDK v3 that the Lambda Node.js runtime ships (locally,
   * the one in node_modules, found by Node's resolution from the bundle's folder). Set `false` to pin the SDK
   * version the code was tested with, at about 500 KB more per client.
   * @default true
   */
  externalAwsSdk?: boolean;
  /** @default true */
  minify?: boolean;
  /**
   * Write a linked source map next to the bundle (stack traces need NODE_OPTIONS=--enable-source-maps, which costs
   * cold start time).
   * @default false
   */
  sourcemap?: boolean;
  /** Node.js version the output must run on. @default "node20" */
  target?: string;
}

/**
 * The bundle is ESM (`.mjs`), which Lambda loads as a module. Code that loads modules lazily with `require` (the
 * runtime does so for the AWS SDK and ElectroDB, to keep them off the init phase) needs a `require` in module scope:
 * this banner gives it one, resolving from the bundle's location (and NODE_PATH, where Lambda keeps its SDK).
 */
export const REQUIRE_SHIM =
  'import { createRequire as __platformCreateRequire } from "node:module";\n' +
  "const require = __platformCreateRequire(import.meta.url);";

/** Packages the Lambda Node.js runtime provides. */
export const AWS_SDK_EXTERNALS: readonly string[] = ["@aws-sdk/*"];

/**
 * esbuild options for a function bundle: one ESM file, platform node, minified, tree-shaken, `@aws-sdk/*` external.
 * The deploy-time function component, the local stage and the cold-start benchmark all build with these.
 * @param entry the handler's source file
 * @param outfile the bundle to write; end it in `.mjs` (Lambda handler `<name>.handler`)
 * @example
 * await esbuild.build(bundleOptions("services/billing/handlers/issue-invoice.ts", ".build/issue-invoice/index.mjs"));
 */
export function bundleOptions(entry: string, outfile: string, settings: BundleSettings = {}): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: settings.target ?? "node20",
    minify: settings.minify ?? true,
    treeShaking: true,
    sourcemap: settings.sourcemap ? "linked" : false,
    external: settings.externalAwsSdk === false ? [] : [...AWS_SDK_EXTERNALS],
    banner: { js: REQUIRE_SHIM },
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
  };
}
