import { ENV } from "../../../contract";

/** Dummy credentials and region for SDK clients that talk to local endpoints only. */
export function useLocalAwsEnvironment(): void {
  process.env.AWS_REGION = "eu-west-1";
  process.env.AWS_ACCESS_KEY_ID = "local";
  process.env.AWS_SECRET_ACCESS_KEY = "local";
  // Our tests inject failures on purpose; the SDK's own retries would only slow them down.
  process.env.AWS_MAX_ATTEMPTS = "1";
  // The SDK warns once per process that Node.js 20 support ends in 2027; keep test output readable.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  delete process.env.AWS_PROFILE;
}

export const ACCOUNT = "123456789012";
export const topicArn = (name: string) => `arn:aws:sns:eu-west-1:${ACCOUNT}:${name}`;

/** Topic ARNs of the test stage, as the platform would name them. */
export const TEST_TOPICS = {
  "orders.order-placed": topicArn("test-orders-order-placed"),
  "billing.invoice-issued": topicArn("test-billing-invoice-issued"),
  "orders.order-status-changed": topicArn("test-orders-order-status-changed.fifo"),
  failure: topicArn("test-platform-event-failed"),
} as const;

export interface FunctionEnvironment {
  service: string;
  handler?: string;
  /** Event types this function may publish. @default every type of TEST_TOPICS */
  publishes?: ReadonlyArray<keyof typeof TEST_TOPICS>;
  dataTable?: string;
  idempotencyTable?: string;
  logLevel?: string;
}

/** Sets the variables the function component would set. */
export function setFunctionEnvironment(env: FunctionEnvironment): void {
  const publishes = env.publishes ?? (["orders.order-placed", "billing.invoice-issued", "orders.order-status-changed"] as const);
  process.env[ENV.stage] = "test";
  process.env[ENV.service] = env.service;
  process.env[ENV.handler] = env.handler ?? "test-handler";
  process.env[ENV.failureTopicArn] = TEST_TOPICS.failure;
  process.env[ENV.publishTopics] = JSON.stringify(Object.fromEntries(publishes.map((t) => [t, TEST_TOPICS[t]])));
  process.env[ENV.dataTable] = env.dataTable ?? "test-data";
  process.env[ENV.idempotencyTable] = env.idempotencyTable ?? "test-idempotency";
  process.env[ENV.logLevel] = env.logLevel ?? "ERROR";
}
