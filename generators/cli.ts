// Entry of `npm run new-service` and friends: `node --import tsx generators/cli.ts <generator> [--flag value ...]`.
import { relative } from "node:path";
import { GeneratorError } from "./lib/errors";
import { runFromArgs } from "./run";

async function main(): Promise<void> {
  const [name, ...argv] = process.argv.slice(2);
  if (!name) throw new GeneratorError("usage: generators/cli.ts <service|event|consumer|entity|route|workflow|migration> [--flag value ...]");
  const written = await runFromArgs(name, argv);
  for (const path of written) console.log(`  wrote ${relative(process.cwd(), path) || path}`);
  console.log(`${name}: ${written.length} file${written.length === 1 ? "" : "s"} written`);
}

main().catch((err: unknown) => {
  if (err instanceof GeneratorError) {
    console.error(`error: ${err.message}`);
  } else if (err instanceof Error && err.name === "ExitPromptError") {
    console.error("cancelled; nothing was written");
  } else {
    console.error(err);
  }
  process.exitCode = 1;
});
