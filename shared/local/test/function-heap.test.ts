// A function's worker gets the V8 heap Lambda's Node.js runtime gives that memory size: a tenth of it as new space
// (half per semi-space), the rest as old space.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FunctionHost } from "../lambda";
import { lambdaHeapLimits } from "../lambda/heap";

test("Lambda's split: 512 MB -> 25 MB semi-spaces (young generation 75 MB), 461 MB old space; 128 MB -> 6 and 116", () => {
  assert.equal(lambdaHeapLimits(512), { maxOldGenerationSizeMb: 461, maxYoungGenerationSizeMb: 75 });
  assert.equal(lambdaHeapLimits(128), { maxOldGenerationSizeMb: 116, maxYoungGenerationSizeMb: 18 });
  assert.equal(lambdaHeapLimits(10240), { maxOldGenerationSizeMb: 9216, maxYoungGenerationSizeMb: 1536 });
});

test("the function host starts each worker with those limits", async () => {
  const host = new FunctionHost({ name: "local-heap-check", entry: join(__dirname, "fixtures", "heap-limits-handler.ts"), memory: 512 }, { region: "eu-west-1", onLog: () => undefined });
  try {
    const result = await host.invoke({});
    if (!result.ok) throw new Error(`${result.error.errorType}: ${result.error.errorMessage}`);
    // Without limits of its own a worker's young generation is V8's default (48 MB on 64-bit Node.js 20).
    const payload = result.payload as { resourceLimits: Record<string, number> };
    assert.is(payload.resourceLimits.maxYoungGenerationSizeMb, 75);
    assert.is(payload.resourceLimits.maxOldGenerationSizeMb, 461);
  } finally {
    await host.stop();
  }
});

test.run();
