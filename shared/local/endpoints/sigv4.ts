import type { IncomingHttpHeaders } from "node:http";

/** Who signed a request, as its AWS Signature Version 4 credential scope tells. */
export interface SigV4Credential {
  /** The access key id (the local stage gives each function its own). */
  accessKeyId: string;
  /** The scope's date, `YYYYMMDD`. */
  date: string;
  /** The region the request was signed for. */
  region: string;
  /** The signing name of the service (`sns`, `sqs`, `dynamodb`). */
  service: string;
}

const SCOPE_TERMINATOR = "aws4_request";

/**
 * Parses a credential scope `AKID/20260101/eu-west-1/sns/aws4_request`. The access key id is everything before the
 * last four parts, so an id that itself holds a `/` still comes back whole.
 */
export function parseCredentialScope(value: string): SigV4Credential | undefined {
  const parts = value.trim().split("/");
  if (parts.length < 5 || parts[parts.length - 1] !== SCOPE_TERMINATOR) return undefined;
  const [date, region, service] = parts.slice(-4, -1) as [string, string, string];
  const accessKeyId = parts.slice(0, -4).join("/");
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region || !service) return undefined;
  return { accessKeyId, date, region, service };
}

/**
 * The credential of a SigV4-signed request: from the `Authorization` header
 * (`AWS4-HMAC-SHA256 Credential=<scope>, SignedHeaders=..., Signature=...`) or, for a presigned URL, from the
 * `X-Amz-Credential` query parameter. `undefined` when the request is not signed with SigV4.
 *
 * The signature itself is not verified: the local stage hands out dummy secrets, and the access key id is only used to
 * tell callers apart.
 */
export function sigV4Credential(headers: IncomingHttpHeaders, url: string): SigV4Credential | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === "string") {
    const match = /^AWS4-HMAC-SHA256\s+(?:.*?[\s,])?Credential=([^,\s]+)/.exec(authorization);
    return match?.[1] ? parseCredentialScope(match[1]) : undefined;
  }
  const query = url.indexOf("?");
  if (query < 0) return undefined;
  const credential = new URLSearchParams(url.slice(query + 1)).get("X-Amz-Credential");
  return credential ? parseCredentialScope(credential) : undefined;
}
