// `npm run catalog`: writes docs/asyncapi.yaml, the AsyncAPI 3.0 document of the whole system, from the event catalog
// and the service programs (run under Pulumi's mocks). It refuses, naming the event and field, when the catalog
// changes a version recorded in the committed document in a way that breaks its readers. It also writes
// docs/flow.svg, the flow diagram of the same programs (shown in the README).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BreakingSchemaChangeError } from "./compatibility";
import { DIAGRAM_PATH } from "./diagram";
import { generateFlowDiagram, readCommittedDiagram } from "./diagram-system";
import { DOCUMENT_PATH } from "./document";
import { documentProblems, generateDocument, readCommittedDocument, REPO_ROOT } from "./system";

async function main(): Promise<void> {
  const text = await generateDocument(REPO_ROOT);
  const problems = await documentProblems(text);
  if (problems.length) throw new Error(`the generated document is not valid AsyncAPI:\n  ${problems.join("\n  ")}`);
  write(DOCUMENT_PATH, text, readCommittedDocument(REPO_ROOT)?.text);
  write(DIAGRAM_PATH, await generateFlowDiagram(REPO_ROOT), readCommittedDiagram(REPO_ROOT));
}

function write(relativePath: string, text: string, committed: string | undefined): void {
  if (committed === text) {
    console.log(`${relativePath} is up to date`);
    return;
  }
  const path = join(REPO_ROOT, relativePath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote ${relativePath}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof BreakingSchemaChangeError || !(error instanceof Error) ? `error: ${String(error instanceof Error ? error.message : error)}` : error);
    process.exit(1);
  },
);
