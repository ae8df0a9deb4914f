/**
 * The V8 heap of a Lambda function's Node.js runtime, from its memory size. Lambda's Node.js bootstrap (the
 * `bootstrap` script of AWS's Node.js base images) starts node with a new space of a tenth of the memory, half of it
 * per semi-space, and the rest as old space:
 *
 *   new_space = memory / 10;  --max-semi-space-size = new_space / 2;  --max-old-space-size = memory - new_space
 *
 * (MB, whole numbers). A worker thread takes heap sizes as resource limits instead of flags: its young generation is
 * V8's two semi-spaces plus the new large-object space, each one semi-space in size, so three semi-spaces.
 */
export interface HeapLimits {
  /** The worker's `resourceLimits.maxOldGenerationSizeMb`. */
  maxOldGenerationSizeMb: number;
  /** The worker's `resourceLimits.maxYoungGenerationSizeMb`: three semi-spaces. */
  maxYoungGenerationSizeMb: number;
}

/** The heap limits Lambda gives a function of `memoryMb` (at least 64 MB of old space, 1 MB per semi-space). */
export function lambdaHeapLimits(memoryMb: number): HeapLimits {
  const newSpace = Math.floor(memoryMb / 10);
  const semiSpace = Math.max(1, Math.floor(newSpace / 2));
  return { maxOldGenerationSizeMb: Math.max(memoryMb - newSpace, 64), maxYoungGenerationSizeMb: 3 * semiSpace };
}
