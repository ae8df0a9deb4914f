// ledger: Posts a ledger entry for every issued invoice and keeps each customer's balance
// Owned by finance. The infrastructure is derived from this declaration by shared/infra (see README.md).
import { defineService } from "../../shared/infra";

export = function program() {
  return defineService({
    name: "ledger",
    publishes: ["ledger.entry-posted"],
    consumers: {
      "on-invoice-issued": { event: "billing.invoice-issued", versions: [1], handler: "./handlers/on-invoice-issued.ts", publishes: ["ledger.entry-posted"] },
      "on-entry-posted": { event: "ledger.entry-posted", versions: [1], handler: "./handlers/on-entry-posted.ts", records: [] },
      // new consumers are added above this line
    },
    // no HTTP API yet: `npm run new-route` adds it here
  }).outputs;
};
