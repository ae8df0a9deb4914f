import { kinesisClient, kinesisClientCreated, resetKinesisClient } from "./kinesis-client";
import { sendToStreams } from "./stream-publish";

declare global {
  /**
   * Set by the bundle (`define` in bundle-options.ts): `false` in the bundle of a function that publishes no stream
   * event, so esbuild leaves the Kinesis client out of it. Unset outside a bundle (tests): the client is there.
   */
  var PLATFORM_BUNDLE_KINESIS: boolean | undefined;
}

/**
 * What the runtime does with Kinesis, or `undefined` in a bundle built without it (a function that publishes no
 * stream event: the function component sets `kinesis` in its bundle settings from what it publishes). esbuild folds
 * the condition, so everything the value references (the Kinesis client and its SDK modules, about 33 KB minified)
 * is left out of the bundles that do not need it.
 */
export const streams =
  globalThis.PLATFORM_BUNDLE_KINESIS === false
    ? undefined
    : { send: sendToStreams, prepare: kinesisClient, created: kinesisClientCreated, reset: resetKinesisClient };
