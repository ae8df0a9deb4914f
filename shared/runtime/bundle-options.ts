import type { BuildOptions, Plugin } from "esbuild";

/** Choices a function's bundle may change; the rest is fixed so every function is built the same way. */
export interface BundleSettings {
  /**
   * Leave `@aws-sdk/*` out of the bundle and load the AWS SDK v3 that the Lambda Node.js runtime ships (locally,
   * the one in node_modules, found by Node's resolution from the bundle's folder). By default the SDK is bundled:
   * the function runs the SDK version its tests ran (package-lock.json), not whatever version Lambda ships that
   * day, and it starts faster (`npm run bench cold-start` measures both, side by side; README, "Inside a function").
   * @default false
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
  /**
   * Bundle the Kinesis client (about 33 KB minified): for functions that publish a stream event (the function
   * component sets it from the events a function publishes). Without it, publishing a stream event is a
   * `ConfigurationError` and the client is not in the bundle (shared/runtime/streams.ts).
   * @default false
   */
  kinesis?: boolean;
  /**
   * Bundle the relational store's Data API client: for the functions of a service that declares `relational`.
   * Without it, `relationalStore()` is a `ConfigurationError` on first use and the client is not in the bundle
   * (shared/runtime/relational.ts; Kysely is bundled by the handlers that import shared/runtime/relational, only).
   * @default false
   */
  relational?: boolean;
}

/**
 * The bundle is ESM (`.mjs`), which Lambda loads as a module. CommonJS code inside it (ElectroDB, `node:` modules
 * the runtime loads on first use) calls `require`, which an ES module lacks: this banner gives it one, resolving from
 * the bundle's location (and NODE_PATH, where Lambda keeps its SDK, for bundles built with `externalAwsSdk`).
 */
export const REQUIRE_SHIM =
  'import { createRequire as __platformCreateRequire } from "node:module";\n' +
  "const require = __platformCreateRequire(import.meta.url);";

/**
 * What function bundles get in place of `jsonschema`. ElectroDB's only use of it is to validate an entity's model
 * when the entity is built (node_modules/electrodb/src/validations.js: custom formats on `Validator.prototype`,
 * `new Validator()`, `addSchema`, `validate(model, schema).errors`). A bundle's models are validated already:
 * shared/runtime/test/entity-models.test.ts builds every entity of every service with the full ElectroDB and its
 * jsonschema validation, and the tests run before anything is deployed. Validating again in every cold start cost
 * the first event 28 KB of code to load and the validation's work (`npm run bench cold-start`).
 */
export const VALIDATED_MODEL_JSONSCHEMA =
  "class Validator { addSchema() {} validate() { return { valid: true, errors: [] }; } }\n" +
  "Validator.prototype.customFormats = {};\n" +
  "module.exports = { Validator };\n";

/** The esbuild plugin that bundles {@link VALIDATED_MODEL_JSONSCHEMA} as `jsonschema` (namespace `validated-model`). */
export const validatedModelPlugin: Plugin = {
  name: "validated-model",
  setup(build) {
    build.onResolve({ filter: /^jsonschema$/ }, () => ({ path: "jsonschema", namespace: "validated-model" }));
    build.onLoad({ filter: /.*/, namespace: "validated-model" }, () => ({ contents: VALIDATED_MODEL_JSONSCHEMA, loader: "js" }));
  },
};

/** The registry's key (`Symbol.for`) where shared/runtime/electrodb-sdk.ts puts what ElectroDB takes from the SDK. */
export const ELECTRODB_SDK_REGISTRY = "platform.electrodb-sdk";

/**
 * What ElectroDB takes from the AWS SDK (node_modules/electrodb/src/client.js: `require("@aws-sdk/lib-dynamodb")`,
 * then `new this.lib.<Name>Command(params)` for these ten, and `util.unmarshall` from `@aws-sdk/util-dynamodb`).
 * shared/runtime/test/bundle.test.ts checks the list against ElectroDB's source.
 */
export const ELECTRODB_SDK_IMPORTS: Readonly<Record<"@aws-sdk/lib-dynamodb" | "@aws-sdk/util-dynamodb", readonly string[]>> = {
  "@aws-sdk/lib-dynamodb": [
    "BatchGetCommand",
    "BatchWriteCommand",
    "DeleteCommand",
    "GetCommand",
    "PutCommand",
    "QueryCommand",
    "ScanCommand",
    "TransactGetCommand",
    "TransactWriteCommand",
    "UpdateCommand",
  ],
  "@aws-sdk/util-dynamodb": ["unmarshall"],
};

/**
 * The esbuild plugin that answers ElectroDB's `require()` of `@aws-sdk/lib-dynamodb` and `@aws-sdk/util-dynamodb`
 * (namespace `electrodb-sdk`) with a CommonJS module whose {@link ELECTRODB_SDK_IMPORTS} read the registry that
 * shared/runtime/electrodb-sdk.ts fills (`dataTable()` fills it) when ElectroDB builds a command.
 * Why: a `require()` of an ES module makes esbuild wrap it and everything it imports, and a wrapped module keeps all
 * it re-exports: the SDK's DynamoDB package came whole (every command, the aggregated client, the waiters; 45 KB
 * evaluated at every cold start). With no `require()` reaching the SDK, only the commands imported by name are kept.
 */
export const electrodbSdkPlugin: Plugin = {
  name: "electrodb-sdk",
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/(lib|util)-dynamodb$/ }, (args) =>
      args.kind === "require-call" && /[\\/]node_modules[\\/]electrodb[\\/]/.test(args.importer)
        ? { path: args.path, namespace: "electrodb-sdk" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "electrodb-sdk" }, (args) => {
      const names = ELECTRODB_SDK_IMPORTS[args.path as keyof typeof ELECTRODB_SDK_IMPORTS];
      const contents =
        `const module_ = ${JSON.stringify(args.path)};\n` +
        "const sdk = () => {\n" +
        `  const registry = globalThis[Symbol.for(${JSON.stringify(ELECTRODB_SDK_REGISTRY)})];\n` +
        "  if (!registry) throw new Error(`ElectroDB's \${module_} is not registered in this function bundle: give entities dataTable()'s configuration (shared/runtime/data-table.ts), which registers it (shared/runtime/electrodb-sdk.ts)`);\n" +
        "  return registry[module_];\n" +
        "};\n" +
        `module.exports = Object.defineProperties({}, {\n${names.map((name) => `  ${name}: { enumerable: true, get: () => sdk().${name} },\n`).join("")}});\n`;
      return { contents, loader: "js" };
    });
  },
};

/** Packages the Lambda Node.js runtime provides. */
export const AWS_SDK_EXTERNALS: readonly string[] = ["@aws-sdk/*"];

/**
 * esbuild options for a function bundle: one ESM file, platform node, minified, tree-shaken, the AWS SDK inside.
 * Packages are taken in their ES module build where they have one (`module` before `main`): esbuild can drop the
 * SDK commands a function never sends only from ES modules, and Node evaluates no CommonJS wrappers for them.
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
    mainFields: ["module", "main"],
    // ElectroDB validates an entity's model with jsonschema when the entity is built: in a bundle, the model was
    // validated already, by the full ElectroDB in shared/runtime/test/entity-models.test.ts (every entity of every
    // service), so the bundle takes a stand-in that accepts it (VALIDATED_MODEL_JSONSCHEMA).
    // ElectroDB's require() of the SDK takes only the commands it sends (ELECTRODB_SDK_IMPORTS).
    plugins: [validatedModelPlugin, electrodbSdkPlugin],
    external: settings.externalAwsSdk === true ? [...AWS_SDK_EXTERNALS] : [],
    banner: { js: REQUIRE_SHIM },
    // Folded by esbuild: without Kinesis, nothing that uses its client stays in the bundle (streams.ts).
    define: {
      "globalThis.PLATFORM_BUNDLE_KINESIS": settings.kinesis === true ? "true" : "false",
      "globalThis.PLATFORM_BUNDLE_RELATIONAL": settings.relational === true ? "true" : "false",
    },
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
  };
}
