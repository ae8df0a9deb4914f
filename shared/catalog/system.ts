import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import { parse } from "yaml";
import { runSystem } from "../capture/system";
import { catalog } from "../contract/catalog";
import { EVENT_CONSUMER_TYPE } from "../infra/event-consumer";
import type { JsonSchema } from "./compatibility";
import { buildDocument, DOCUMENT_PATH, renderDocument, type ConsumerWiring } from "./document";

/** The repository root (this file is `shared/catalog/system.ts`). */
export const REPO_ROOT = join(__dirname, "..", "..");

/**
 * Every consumer of the system, as the service programs declare it: each program runs under Pulumi's mocks (the
 * platform first, then every service; the `dev` stage, whose wiring every stage shares) and its EventConsumer
 * components say which event, versions and filter policy.
 */
export async function systemConsumers(root = REPO_ROOT, stage = "dev"): Promise<ConsumerWiring[]> {
  const system = await runSystem({ root, stage });
  const consumers: ConsumerWiring[] = [];
  for (const service of system.services) {
    for (const component of service.run.mocks.byType(EVENT_CONSUMER_TYPE)) {
      const { service: name, name: consumer, event, versions, filter } = component.inputs as ConsumerWiring;
      consumers.push({ service: name, name: consumer, event, versions, ...(filter ? { filter } : {}) });
    }
  }
  return consumers;
}

/** The committed document, parsed (undefined when there is none yet). */
export function readCommittedDocument(root = REPO_ROOT): { text: string; document: JsonSchema } | undefined {
  let text: string;
  try {
    text = readFileSync(join(root, DOCUMENT_PATH), "utf8");
  } catch {
    return undefined;
  }
  return { text, document: parse(text) as JsonSchema };
}

/** The document of the system as it is now, checked against the committed one, as YAML text. */
export async function generateDocument(root = REPO_ROOT): Promise<string> {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const consumers = await systemConsumers(root);
  const document = buildDocument({ catalog, consumers, version, previous: readCommittedDocument(root)?.document });
  return renderDocument(document);
}

/** What `@asyncapi/parser` reports as errors or warnings for a document (empty when it is valid). */
export async function documentProblems(text: string): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(text);
  // severity 0 is an error, 1 a warning; 2 and 3 are information and hints (such as "3.1.0 exists").
  return diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.path.join(".") || "(document)"}: ${d.message} [${d.code}]`);
}
