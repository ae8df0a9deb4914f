// --persist keeps the relational store: PGlite's data directory under <dir>/relational, so rows written before a
// restart are there after it and the migrations recorded are not applied again.
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startLocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
const serviceDirs = [join(REPO, "services", "ledger"), join(REPO, "services", "reporting")];

test("rows and applied migrations survive a restart with --persist", async () => {
  const dir = mkdtempSync(join(tmpdir(), "relational-persist-"));
  try {
    const first = await startLocalStage({ port: 0, persistDir: dir, serviceDirs });
    try {
      assert.equal(first.relational.migrations[0]!.applied, ["0001_create_revenue.sql", "0002_index_revenue_by_day.sql"]);
      assert.is(first.relational.engine!.storage, join(dir, "relational"));
      const client = await first.relational.client();
      const cluster = first.relational.cluster!;
      await client.executeStatement({
        resourceArn: cluster.clusterArn,
        secretArn: first.relational.stores[0]!.secretArn!,
        sql: "insert into revenue (customer_id, day, amount_cents, entries) values (:c, cast(:d as date), 700, 1)",
        parameters: [
          { name: "c", value: { stringValue: "kept-customer" } },
          { name: "d", value: { stringValue: "2026-12-05" } },
        ],
      });
    } finally {
      await first.stop();
    }
    assert.ok(existsSync(join(dir, "relational", "PG_VERSION")), "PGlite's data directory");
    const second = await startLocalStage({ port: 0, persistDir: dir, serviceDirs });
    try {
      assert.equal(second.relational.migrations[0]!.applied, []);
      assert.equal(second.relational.migrations[0]!.alreadyApplied, ["0001_create_revenue.sql", "0002_index_revenue_by_day.sql"]);
      const answer = await fetch(`${second.url}/reports/revenue?customerId=kept-customer`);
      assert.equal(((await answer.json()) as { totalCents: number }).totalCents, 700);
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
