// The deployed-stage target, exercised without AWS: stack outputs from a function, DynamoDB on dynalite.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { apiRegion, deployedStage, eventually } from "../stage-target";
import { startLocalDynamo, TEST_TABLES, type LocalDynamo } from "../local-dynamo";

let dynamo: LocalDynamo;
test.before(async () => {
  process.env.AWS_REGION = "eu-west-1";
  process.env.AWS_ACCESS_KEY_ID = "local";
  process.env.AWS_SECRET_ACCESS_KEY = "local";
  dynamo = await startLocalDynamo();
});
test.after(() => dynamo.stop());

const outputs: Record<string, Record<string, unknown>> = {
  platform: { dataTable: { name: TEST_TABLES.data } },
  orders: { apiUrl: "https://abc.execute-api.eu-west-1.amazonaws.com/" },
  billing: {},
};

test("reads the service's API URL and its items from the stage's stack outputs", async () => {
  const asked: string[] = [];
  const stage = deployedStage({
    stage: "ci-42",
    runId: "ci-42-run",
    dynamoEndpoint: dynamo.endpoint,
    readOutputs: (project, stageName) => {
      asked.push(`${project}/${stageName}`);
      return outputs[project]!;
    },
  });
  const item = (pk: string, entity: string) => marshall({ pk, sk: "$x", __edb_e__: entity, value: pk });
  await dynamo.client.send(new PutItemCommand({ TableName: TEST_TABLES.data, Item: item("$billing#invoiceid_1", "invoice") }));
  await dynamo.client.send(new PutItemCommand({ TableName: TEST_TABLES.data, Item: item("$billing#noteid_1", "note") }));
  await dynamo.client.send(new PutItemCommand({ TableName: TEST_TABLES.data, Item: item("$orders#orderid_1", "order") }));

  assert.is(stage.apiUrl("orders"), "https://abc.execute-api.eu-west-1.amazonaws.com");
  assert.equal((await stage.items("billing", "invoice")).map((i) => i.pk), ["$billing#invoiceid_1"]);
  assert.is((await stage.items("billing")).length, 2);
  assert.is(await stage.publishedEvents("billing.invoice-issued", "x"), undefined, "a deployed stage cannot list events");
  assert.throws(() => stage.apiUrl("billing"), /the billing stack of stage ci-42 exports no apiUrl/);
  assert.equal([...new Set(asked)], ["orders/ci-42", "platform/ci-42", "billing/ci-42"], "each stack read once");
  await stage.stop();
});

test("requests to a deployed stage's API are SigV4-signed for execute-api with the caller's credentials", async () => {
  const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(201, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const stage = deployedStage({
    stage: "ci-42",
    readOutputs: () => ({ apiUrl: api }),
    credentials: async () => ({ accessKeyId: "AKIACALLER", secretAccessKey: "secret", sessionToken: "session-token" }),
  });
  try {
    const response = await stage.request("orders", "/orders?dry=1", { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    assert.is(response.status, 201);
    const [request] = seen;
    assert.is(request?.method, "POST");
    assert.is(request?.url, "/orders?dry=1");
    assert.is(request?.body, '{"a":1}');
    const authorization = String(request?.headers.authorization);
    // Region: the environment's for a URL that is not execute-api's (eu-west-1 here).
    assert.match(authorization, /^AWS4-HMAC-SHA256 Credential=AKIACALLER\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/);
    assert.match(String(request?.headers["x-amz-date"]), /^\d{8}T\d{6}Z$/);
    assert.is(request?.headers["x-amz-security-token"], "session-token");
  } finally {
    await stage.stop();
    server.close();
  }
  assert.is(apiRegion(new URL("https://abc123.execute-api.ap-southeast-2.amazonaws.com/")), "ap-southeast-2");
});

test("eventually polls until there is an answer, and names what it waited for when time runs out", async () => {
  let calls = 0;
  assert.is(await eventually("the third call", () => (++calls === 3 ? "done" : undefined), 2_000), "done");
  try {
    await eventually("something that never comes", () => undefined, 150);
    assert.unreachable("it did not time out");
  } catch (err) {
    assert.match((err as Error).message, /timed out after 150 ms waiting for something that never comes/);
  }
});

test.run();
