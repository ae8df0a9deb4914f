import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { copyRepo, readmeGeneratorCommands, REPO, treeHashes } from "./helpers";
import { runFromArgs } from "../run";

test("the example services are exactly what the README's generator commands produce", async () => {
  const commands = readmeGeneratorCommands();
  assert.ok(commands.length >= 2, "the README lists the commands that made the examples");
  const root = copyRepo("generators-examples-");
  try {
    const services = commands.filter(([script]) => script === "new-service").map(([, args]) => args[args.indexOf("--name") + 1]!);
    for (const name of services) rmSync(join(root, "services", name), { recursive: true });
    for (const [script, args] of commands) {
      await runFromArgs(script.replace(/^new-/, ""), [...args, "--root", root], { interactive: false });
    }
    const regenerated = treeHashes(root);
    const committed = treeHashes(REPO);
    for (const name of services) {
      const prefix = `services/${name}/`;
      const ours = [...committed.keys()].filter((k) => k.startsWith(prefix)).sort();
      const theirs = [...regenerated.keys()].filter((k) => k.startsWith(prefix)).sort();
      assert.equal(theirs, ours, `${name}: the same files`);
      for (const file of ours) {
        if (committed.get(file) !== regenerated.get(file)) {
          assert.fixture(readFileSync(join(root, file), "utf8"), readFileSync(join(REPO, file), "utf8"));
        }
      }
    }
    assert.is(regenerated.get("shared/contract/catalog.ts"), committed.get("shared/contract/catalog.ts"), "catalog unchanged");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
