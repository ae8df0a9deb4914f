// reporting: Keeps revenue per customer per day from the ledger's posted entries and serves it as a report
// Owned by finance. The infrastructure is derived from this declaration by shared/infra (see README.md).
import { defineService } from "../../shared/infra";

export = function program() {
  return defineService({
    name: "reporting",
    publishes: [],
    relational: { migrations: "migrations" },
    consumers: {
      // The relational writer: a stream consumer, so the stream's shards (x parallelization) bound the writers.
      "on-entry-posted": { event: "ledger.entry-posted", versions: [1], handler: "./handlers/on-entry-posted.ts", records: [] },
      // new consumers are added above this line
    },
    http: {
      routes: {
        "GET /reports/revenue": { handler: "./handlers/get-revenue.ts", name: "get-revenue", records: [] },
        // new routes are added above this line
      },
    },
  }).outputs;
};
