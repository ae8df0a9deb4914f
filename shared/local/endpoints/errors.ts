/** The endpoints answer with the local stage's one AWS error class (see `../aws`). */
export { AwsServiceError, awsErrorParts, type AwsErrorParts } from "../aws";
