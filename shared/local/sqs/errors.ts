/**
 * The engines throw the local stage's one AWS error class (`AwsServiceError`, see `../aws`); `ServiceError` is the
 * same class under the name the engines have always used.
 */
export { AwsServiceError as ServiceError } from "../aws";
