// orders: Takes orders from customers and announces them
// Owned by checkout. The infrastructure is derived from this declaration by shared/infra (see README.md).
import { defineService } from "../../shared/infra";

export = function program() {
  return defineService({
    name: "orders",
    publishes: ["orders.order-placed"],
    consumers: {
      // new consumers are added above this line
    },
    http: {
      routes: {
        "POST /orders": { handler: "./handlers/create-order.ts", name: "create-order", records: ["orders.order-placed"] },
        // new routes are added above this line
      },
    },
  }).outputs;
};
