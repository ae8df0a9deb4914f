import type { Test } from "uvu";
import { resetAwsClients } from "../../aws-clients";
import { setFunctionEnvironment, useLocalAwsEnvironment, type FunctionEnvironment } from "./aws-environment";
import { startSnsStub, type SnsStub } from "./sns-server";

/**
 * A local SNS endpoint for a test file's suite: started (with the local AWS environment) before its tests, closed
 * after them, and reset before each, with `env` as the function environment. The stub answers once the suite runs.
 * @example
 * const sns = snsStubFor(test, { service: "orders" });
 */
export function snsStubFor(suite: Test, env: FunctionEnvironment): SnsStub {
  // Filled in when the suite starts: the stub's lists are kept (reset empties them in place), so the copy stays live.
  const stub = {} as SnsStub;
  let started: SnsStub | undefined;
  suite.before(async () => {
    useLocalAwsEnvironment();
    started = await startSnsStub();
    Object.assign(stub, started);
  });
  suite.after(() => started?.close());
  suite.before.each(() => {
    stub.reset();
    setFunctionEnvironment(env);
  });
  return stub;
}

/** Runs `work` with the SNS client configured for `attempts` attempts (the tests' environment sets 1). */
export async function withMaxAttempts<T>(attempts: number, work: () => Promise<T>): Promise<T> {
  const saved = process.env.AWS_MAX_ATTEMPTS;
  process.env.AWS_MAX_ATTEMPTS = String(attempts);
  resetAwsClients();
  try {
    return await work();
  } finally {
    process.env.AWS_MAX_ATTEMPTS = saved;
    resetAwsClients();
  }
}
