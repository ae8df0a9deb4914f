/**
 * `Promise.withResolvers` (ES2024, Node.js 22) for Node.js 20, which aws-local-stepfunctions 3.0 calls for every Task
 * state's timeout. Defined only when missing, with the specification's steps (NewPromiseCapability on `this`, so a
 * subclass gets its own kind of promise), non-enumerable like the built-in: on Node.js 22 and later this does nothing.
 * Eight lines of our own rather than a dependency (core-js would bring hundreds of modules for one function).
 */
type WithResolvers = <T>(this: PromiseConstructor) => { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };

export function installPromiseWithResolvers(): void {
  const promise = Promise as PromiseConstructor & { withResolvers?: WithResolvers };
  if (typeof promise.withResolvers === "function") return;
  const withResolvers: WithResolvers = function <T>(this: PromiseConstructor) {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const made = new this<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise: made, resolve, reject };
  };
  Object.defineProperty(Promise, "withResolvers", { value: withResolvers, writable: true, configurable: true, enumerable: false });
}

installPromiseWithResolvers();
