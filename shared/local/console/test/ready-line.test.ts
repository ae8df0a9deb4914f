// The ready line of `npm start` names the console's address beside the admin API's.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readyLine } from "../../cli";
import type { LocalStage } from "../../stage";

test("the ready line says where the console is", () => {
  const stage = {
    startupMs: 1000,
    url: "http://127.0.0.1:3000",
    adminUrl: "http://127.0.0.1:3000/_local/",
    routes: [],
    consumers: [],
    services: [],
    endpoints: { sns: "http://127.0.0.1:4000", sqs: "http://127.0.0.1:4000", dynamodb: "http://127.0.0.1:5000" },
    storage: "memory",
  } as unknown as LocalStage;
  assert.match(readyLine(stage), " | admin: http://127.0.0.1:3000/_local/ (console: http://127.0.0.1:3000/_local/console) | ");
});

test.run();
