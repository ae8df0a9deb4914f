/**
 * The error the local engines throw for a request AWS would reject: `code` is the AWS error code
 * (`InvalidParameterValue`, `MissingParameter`, `ReceiptHandleIsInvalid`, `InvalidParameter`, ...), the message
 * follows AWS's wording where it is known.
 */
export class ServiceError extends Error {
  override readonly name = "ServiceError";

  constructor(
    /** The AWS error code, e.g. `InvalidParameterValue`. */
    readonly code: string,
    message: string,
    /** True when the caller is at fault (HTTP 400), false for a service-side failure. */
    readonly senderFault = true,
  ) {
    super(message);
  }
}
