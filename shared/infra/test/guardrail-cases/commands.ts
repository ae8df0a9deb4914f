import { fn, fnArn, resource, type RuleCases } from "./fixtures";

const route = (routeKey: string, integration = "int-1") =>
  resource("aws:apigatewayv2/route:Route", `route-${routeKey.replace(/\W+/g, "-")}`, { apiId: "api123", routeKey, target: `integrations/${integration}` });
const integration = (name: string, target: string) =>
  resource("aws:apigatewayv2/integration:Integration", name, { apiId: "api123", integrationType: "AWS_PROXY", integrationUri: fnArn(target) });
const withRecords = (name: string) => fn(name, { environment: { variables: { PLATFORM_IDEMPOTENCY_TABLE: "dev-platform-idempotency" } } });
const withoutRecords = (name: string) => fn(name, { environment: { variables: { PLATFORM_SERVICE: "orders" } } });

export const cases: RuleCases = {
  "api-command-route-idempotency": {
    good: [
      [route("POST /orders"), integration("int-1", "create"), withRecords("create")],
      // A query changes nothing: no records needed.
      [route("GET /orders/{id}"), integration("int-1", "read"), withoutRecords("read")],
      [
        route("GET /orders", "int-1"),
        integration("int-1", "read"),
        withoutRecords("read"),
        route("DELETE /orders/{id}", "int-2"),
        integration("int-2", "remove"),
        withRecords("remove"),
      ],
    ],
    bad: [
      [[route("POST /orders"), integration("int-1", "create"), withoutRecords("create")], /route "POST \/orders" runs function create, which keeps no Idempotency-Key records/],
      [[route("ANY /orders/{proxy+}"), integration("int-1", "any"), withoutRecords("any")], /route "ANY \/orders\/\{proxy\+\}" runs function any/],
    ],
  },
};
