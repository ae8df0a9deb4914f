// billing: Issues an invoice for every placed order
// Owned by finance. The infrastructure is derived from this declaration by shared/infra (see README.md).
import { defineService } from "../../shared/infra";

export = function program() {
  return defineService({
    name: "billing",
    publishes: ["billing.invoice-issued"],
    consumers: {
      "on-order-placed": { event: "orders.order-placed", versions: [1], handler: "./handlers/on-order-placed.ts", records: ["billing.invoice-issued"] },
      // new consumers are added above this line
    },
    // no HTTP API yet: `npm run new-route` adds it here
  }).outputs;
};
