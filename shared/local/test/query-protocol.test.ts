// The Query protocol's form parsing reads bodies exactly as URLSearchParams does (its fast path uses
// decodeURIComponent), including what decodeURIComponent refuses: lone '%', escapes that are not UTF-8.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { escapeXml, formPairs, parseQuery } from "../endpoints/query-protocol";

const BODIES = [
  "",
  "a=1&b=2",
  "a.b.c=x&a.b.d=y&a.b=z",
  "a.b=1&a=2&a.c=3",
  "=x&y=&&z&",
  "a+b=c+d%2B%20e",
  "x=1&x=2",
  "%=1&a=%zz&b=%4",
  "k=%E4%F6",
  "k=%C3%A4%F0%9F%98%80",
  "a=%ED%A0%80",
  "a=%C0%AF",
  "a.=1&.b=2&a..c=3",
  "k=caf\u00e9&\u00fc=%C3%BC",
  "Action=Publish&Message=%7B%22a%22%3A1%7D&MessageAttributes.entry.1.Name=x&MessageAttributes.entry.1.Value.StringValue=y+z",
];

/** The tree parseQuery built before it had a fast path: URLSearchParams, keys split at dots. */
function reference(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split(".");
    let node = root;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (typeof next === "object" && next !== null) node = next as Record<string, unknown>;
      else node = node[part] = {};
    }
    const last = path[path.length - 1]!;
    if (typeof node[last] !== "object") node[last] = value;
  }
  return root;
}

test("form pairs and the parameter tree are URLSearchParams' for well-formed and malformed bodies", () => {
  for (const body of BODIES) {
    assert.equal(formPairs(body), [...new URLSearchParams(body)], body);
    assert.equal(parseQuery(body), reference(body), body);
  }
});

test("a Publish body as the unmodified SDK sends it reads back as sent", async () => {
  let sent = "";
  const client = new SNSClient({
    region: "eu-west-1",
    endpoint: "http://127.0.0.1:9",
    credentials: { accessKeyId: "AKIAQUERYTEST", secretAccessKey: "secret" },
    requestHandler: {
      handle: async (request: { body?: unknown }) => {
        sent = String(request.body);
        throw new Error("captured");
      },
    },
  });
  const message = JSON.stringify({ text: "a&b=c+d %41 \u00e4\u00f6 \ud83d\ude00 ~*'()!", n: 1 });
  await client
    .send(
      new PublishCommand({
        TopicArn: "arn:aws:sns:eu-west-1:123456789012:t",
        Message: message,
        MessageAttributes: { "a.b": { DataType: "String", StringValue: "x=y&z" } },
      }),
    )
    .catch(() => undefined);
  assert.ok(sent.includes("Message="));
  assert.equal(parseQuery(sent), reference(sent));
  const tree = parseQuery(sent) as { Message: string; MessageAttributes: { entry: { 1: { Name: string; Value: { StringValue: string } } } } };
  assert.is(tree.Message, message);
  assert.is(tree.MessageAttributes.entry[1].Name, "a.b");
  assert.is(tree.MessageAttributes.entry[1].Value.StringValue, "x=y&z");
});

test("XML escaping", () => {
  assert.is(escapeXml(`a&b<c>"d'e`), "a&amp;b&lt;c&gt;&quot;d&apos;e");
  assert.is(escapeXml("plain text"), "plain text");
  assert.is(escapeXml("&&"), "&amp;&amp;");
});

test.run();
