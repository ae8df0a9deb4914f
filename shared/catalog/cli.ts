// `npm run catalog`: writes docs/asyncapi.yaml, the AsyncAPI 3.0 document of the whole system, from the event catalog
// and the service programs (run under Pulumi's mocks). It refuses, naming the event and field, when the catalog
// changes a version recorded in the committed document in a way that breaks its readers.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BreakingSchemaChangeError } from "./compatibility";
import { DOCUMENT_PATH } from "./document";
import { documentProblems, generateDocument, readCommittedDocument, REPO_ROOT } from "./system";

async function main(): Promise<void> {
  const text = await generateDocument(REPO_ROOT);
  const problems = await documentProblems(text);
  if (problems.length) throw new Error(`the generated document is not valid AsyncAPI:\n  ${problems.join("\n  ")}`);
  if (readCommittedDocument(REPO_ROOT)?.text === text) {
    console.log(`${DOCUMENT_PATH} is up to date`);
    return;
  }
  const path = join(REPO_ROOT, DOCUMENT_PATH);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote ${DOCUMENT_PATH}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof BreakingSchemaChangeError || !(error instanceof Error) ? `error: ${String(error instanceof Error ? error.message : error)}` : error);
    process.exit(1);
  },
);
