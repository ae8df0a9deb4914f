/**
 * The account id Pulumi's mocks answer (`getCallerIdentity`) and the local stage runs in. A module of its own, with
 * no imports: the local stage's worker bundles (the DynamoDB thread) read it without bundling @pulumi/pulumi.
 */
export const MOCK_ACCOUNT_ID = "123456789012";
