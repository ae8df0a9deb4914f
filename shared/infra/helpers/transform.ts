import type * as pulumi from "@pulumi/pulumi";

/**
 * Adjusts the arguments of one child resource before it is created: either an object whose fields replace the
 * component's defaults, or a function that edits the arguments (and options) in place.
 *
 * @example
 * transform: {
 *   queue: { messageRetentionSeconds: 86_400 },
 *   mapping: (args) => { args.batchSize = 1; },
 * }
 */
export type Transform<T> = Partial<T> | ((args: T, opts: pulumi.CustomResourceOptions, name: string) => void);

/** Applies a transform to a child's name, args and options; returns what the child is created with. */
export function applyTransform<T extends object>(
  transform: Transform<T> | undefined,
  name: string,
  args: T,
  opts: pulumi.CustomResourceOptions,
): [string, T, pulumi.CustomResourceOptions] {
  if (transform === undefined) return [name, args, opts];
  if (typeof transform === "function") {
    transform(args, opts, name);
    return [name, args, opts];
  }
  return [name, { ...args, ...transform }, opts];
}
