/**
 * What every part of the local stage shares about AWS itself: the one account the stage runs in, and the one error
 * class for a request AWS would reject (engines throw it, endpoints turn it into the service's wire format).
 */
// The account module alone: this file is bundled into the stage's worker threads, which must not carry @pulumi/pulumi.
import { MOCK_ACCOUNT_ID } from "../capture/mock-account";

/**
 * The account id of the local stage: the account the programs run under (Pulumi's mocks answer it to
 * `getCallerIdentity`), so every ARN the engines, endpoints, the function host and IAM build names the same account.
 */
export const LOCAL_ACCOUNT_ID: string = MOCK_ACCOUNT_ID;

/**
 * An error in AWS's terms: `code` is the AWS error code as the service reports it (`NotFound`, `InvalidParameter`,
 * `AWS.SimpleQueueService.NonExistentQueue`, `ReceiptHandleIsInvalid`, `AccessDenied`, ...), `message` its text,
 * following AWS's wording where it is known. The endpoints turn it into the service's wire format (an XML
 * `ErrorResponse` for SNS and SQS's Query protocol, a JSON body with `x-amzn-query-error` for SQS's JSON protocol), so
 * the SDK raises the matching exception class.
 *
 * Backends may throw this class, or any error with a string `code` (and optionally `senderFault` or `status`).
 */
export class AwsServiceError extends Error {
  override name = "AwsServiceError";

  constructor(
    /** The AWS error code. */
    readonly code: string,
    message: string,
    options:
      | {
          /**
           * HTTP status of the answer.
           * @default the status AWS uses for `code`, else 400 for a sender fault and 500 otherwise
           */
          status?: number;
          /**
           * True when the caller is at fault.
           * @default true
           */
          senderFault?: boolean;
          cause?: unknown;
        }
      | boolean = {},
  ) {
    const settings = typeof options === "boolean" ? { senderFault: options } : options;
    super(message, settings.cause === undefined ? undefined : { cause: settings.cause });
    this.status = settings.status;
    this.senderFault = settings.senderFault ?? true;
  }

  /** HTTP status, when the thrower chose one. */
  readonly status: number | undefined;
  readonly senderFault: boolean;
}

/** The parts of a thrown value an endpoint needs to answer with an AWS error. */
export interface AwsErrorParts {
  code: string;
  message: string;
  status: number | undefined;
  senderFault: boolean;
}

/**
 * Reads an AWS error out of anything a backend threw: an `AwsServiceError`, or any `Error` with a string `code`.
 * Returns `undefined` for other errors (the endpoint answers those with an internal error).
 */
export function awsErrorParts(error: unknown): AwsErrorParts | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, senderFault, status } = error as Error & { code?: unknown; senderFault?: unknown; status?: unknown };
  // Node's own errors (`ENOENT`, `ERR_INVALID_ARG_TYPE`) carry a code too, but are not AWS errors.
  if (typeof code !== "string" || code === "" || /^(ERR_|E[A-Z0-9]+$)/.test(code)) return undefined;
  return {
    code,
    message: error.message,
    status: typeof status === "number" ? status : undefined,
    senderFault: typeof senderFault === "boolean" ? senderFault : true,
  };
}
