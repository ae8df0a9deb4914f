/** An error the person running a generator can fix: printed without a stack trace, exit code 1. */
export class GeneratorError extends Error {
  override name = "GeneratorError";
}
