// A migration that fails stops the local stage at start, naming the service and the file (as it stops pulumi up),
// with every part already started stopped again. The service is a copy of reporting with a third, broken migration.
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startLocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
// Two levels under the repository, as services/<name> is, so the copy's relative imports reach shared/.
const COPY = join(REPO, ".build", `relational-broken-${process.pid}`);

test.before(() => {
  cpSync(join(REPO, "services", "reporting"), COPY, { recursive: true, filter: (source) => !source.includes(`${"/"}test`) });
  writeFileSync(join(COPY, "migrations", "0003_add_region.sql"), "ALTER TABLE revenue ADD COLUMN region text;\nALTER TABLE revenue_typo ADD COLUMN country text;\n");
});

test.after(() => rmSync(COPY, { recursive: true, force: true }));

test("the stage does not start; the error names the part, the service, the file and PostgreSQL's message", async () => {
  const error = await startLocalStage({ port: 0, serviceDirs: [join(REPO, "services", "ledger"), COPY] }).then(
    async (stage) => {
      await stage.stop();
      return undefined;
    },
    (e: Error) => e,
  );
  assert.ok(error, "the stage started");
  assert.is(error!.name, "LocalStageError");
  assert.match(error!.message, /^relational: service reporting: migration 0003_add_region\.sql failed at "ALTER TABLE revenue_typo ADD COLUMN country text": ERROR: relation "revenue_typo" does not exist/);
});

test.run();
