/**
 * `@pulumi/pulumi` loads, when imported, packages that only its function serialization uses: `runtime/closure/
 * codePaths` requires npm's `@npmcli/arborist` (with pacote, cacache, sigstore, …) and `normalize-package-data` at the
 * top, for `computeCodePaths`, which packs a closure's node_modules (CallbackFunction, dynamic providers). Programs
 * here bundle their functions with esbuild and never call it, yet importing Pulumi cost about 3x what it does without
 * those packages (the local stage's start-up, every guardrail and infra test process).
 *
 * {@link deferPulumiTooling} makes those two requires, from inside `@pulumi/pulumi` only, answer a stand-in that loads
 * the real package on first use (any property read, call or `new`), so a program that does serialize a function still
 * gets the real thing. Import this module before `@pulumi/pulumi` is first loaded (it installs itself on import).
 */
import Module from "node:module";
import { sep } from "node:path";

/** The packages deferred, as `@pulumi/pulumi`'s code paths module requires them. */
export const DEFERRED_PULUMI_REQUIRES: readonly string[] = ["@npmcli/arborist", "normalize-package-data"];

const PULUMI_DIR = `${sep}node_modules${sep}@pulumi${sep}pulumi${sep}`;
const DEFERRED = new Set(DEFERRED_PULUMI_REQUIRES);
let installed = false;

/** Installs the deferral (once per process). */
export function deferPulumiTooling(): void {
  if (installed) return;
  installed = true;
  type Require = (this: NodeJS.Module, id: string) => unknown;
  const prototype = Module.prototype as unknown as { require: Require };
  const original = prototype.require;
  prototype.require = function require(this: NodeJS.Module, id: string): unknown {
    if (DEFERRED.has(id) && typeof this.filename === "string" && this.filename.includes(PULUMI_DIR)) {
      return loadedOnUse(() => original.call(this, id));
    }
    return original.call(this, id);
  };
}

/**
 * A stand-in for a CommonJS module that loads it on first use. It says it is an ES module's namespace, so TypeScript's
 * interop helpers (`__importStar`, `__importDefault`) hand it over as it is instead of copying its keys (which would
 * load it); `default` is the module itself when the real one has none, as `__importDefault` would give.
 */
function loadedOnUse(load: () => unknown): unknown {
  let loaded = false;
  let real: unknown;
  const module = (): Record<PropertyKey, unknown> => {
    if (!loaded) {
      real = load();
      loaded = true;
    }
    return real as Record<PropertyKey, unknown>;
  };
  return new Proxy(function deferredModule() {}, {
    get(_target, key) {
      if (key === "__esModule") return true;
      const m = module();
      if (key === "default" && !m.__esModule) return m;
      return Reflect.get(m, key);
    },
    has: (_target, key) => key === "__esModule" || key in module(),
    apply: (_target, thisArg, args) => Reflect.apply(module() as unknown as (...a: unknown[]) => unknown, thisArg, args),
    construct: (_target, args) => Reflect.construct(module() as unknown as new (...a: unknown[]) => object, args),
  });
}

deferPulumiTooling();
