// Runs the billing consumer on the SQS event in argv[2] and dies (SIGKILL, no cleanup) right after the action
// published, before it writes its effect: a crash mid-action. The environment (endpoints, tables, topics) comes
// from the parent test.
import { billingConsumer, hooks } from "./billing-consumer";

hooks.afterPublish = () => {
  process.kill(process.pid, "SIGKILL");
  return new Promise<void>(() => {});
};

void billingConsumer({ idempotency: { lockTimeoutSeconds: Number(process.env.CRASH_LOCK_SECONDS ?? 1) } })(JSON.parse(process.argv[2]!));
