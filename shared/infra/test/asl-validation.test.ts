import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { aslAccepted, recordAslAccepted } from "../helpers/asl-validation";
import { validateAsl, WorkflowDefinitionError } from "../workflow";

const definition = (next: string) => ({ StartAt: "A", States: { A: { Type: "Pass", Next: next }, B: { Type: "Succeed" } } });
const options = { checkPaths: true, checkArn: true };

test("asl validation record: an accepted definition is known again, in this process and from the folder in the next", () => {
  const root = mkdtempSync(join(tmpdir(), "asl-validation-"));
  try {
    assert.not.ok(aslAccepted(definition("B"), options, root));
    recordAslAccepted(definition("B"), options, root);
    assert.ok(aslAccepted(definition("B"), options, root));
    assert.is(readdirSync(root).length, 1, "one file per accepted definition, no temporary left");
    assert.not.ok(aslAccepted(definition("B"), { checkPaths: true }, root), "other options are another verdict");
    assert.not.ok(aslAccepted(definition("C"), options, root), "another definition is checked");
    const copy = mkdtempSync(join(tmpdir(), "asl-validation-"));
    try {
      // What a later start sees: the folder, without this process's memory of it.
      for (const file of readdirSync(root)) copyFileSync(join(root, file), join(copy, file));
      assert.ok(aslAccepted(definition("B"), options, copy));
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("validateAsl records what it accepted and still refuses an invalid definition every time, with the validator's message", () => {
  const unique = { ...definition("B"), Comment: `asl-validation test ${process.pid} ${Date.now()}` };
  assert.not.ok(aslAccepted(unique, options));
  validateAsl(unique as never, "test");
  assert.ok(aslAccepted(unique, options), "accepted and recorded");
  const invalid = { ...definition("Nowhere"), Comment: unique.Comment };
  for (let i = 0; i < 2; i++) assert.throws(() => validateAsl(invalid as never, "test"), (e: unknown) => e instanceof WorkflowDefinitionError && /Nowhere/.test((e as Error).message));
  assert.not.ok(aslAccepted(invalid, options));
});

test.run();
