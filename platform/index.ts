// The platform program (`main` in Pulumi.yaml). Pulumi calls the exported function and publishes what it returns
// as the stack outputs: the platform contract (`PlatformOutputs` in shared/contract).
import { readPlatformConfig } from "./config";
import { createPlatform, type PlatformExports } from "./program";

export = function platform(): PlatformExports {
  return createPlatform(readPlatformConfig());
};
