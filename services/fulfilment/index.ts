// fulfilment: Fulfils placed orders (reserves stock and charges payment in parallel, releases the stock when payment is declined)
// Owned by fulfilment-team. The infrastructure is derived from this declaration by shared/infra (see README.md).
import { defineService } from "../../shared/infra";
import { fulfilOrder } from "./workflows/fulfil-order";

export = function program() {
  return defineService({
    name: "fulfilment",
    publishes: ["fulfilment.order-fulfilled"],
    consumers: {
      "on-order-placed": { event: "orders.order-placed", versions: [1], handler: "./handlers/on-order-placed.ts", records: [], starts: ["fulfil-order"] },
      // new consumers are added above this line
    },
    workflows: {
      "fulfil-order": fulfilOrder,
      // new workflows are added above this line
    },
    // no HTTP API yet: `npm run new-route` adds it here
  }).outputs;
};
