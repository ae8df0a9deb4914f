/**
 * Alarm recipients that can never confirm: addresses in the domains RFC 2606 reserves for documentation and
 * testing (example.com, example.net, example.org and the .example, .test, .invalid and .localhost top-level
 * domains, with their subdomains). An SNS e-mail subscription to one stays "pending confirmation" forever, so the
 * alarms it should carry reach nobody.
 */
const RESERVED_DOMAINS = ["example.com", "example.net", "example.org"] as const;
const RESERVED_TOP_LEVEL = ["example", "test", "invalid", "localhost"] as const;

/** Why `address` cannot receive alarms, or `undefined` when it may. */
export function placeholderAddressReason(address: string): string | undefined {
  const at = address.lastIndexOf("@");
  const domain = (at >= 0 ? address.slice(at + 1) : address).trim().toLowerCase().replace(/\.$/, "");
  const reserved = RESERVED_DOMAINS.find((d) => domain === d || domain.endsWith(`.${d}`));
  if (reserved) return `${reserved} is reserved for documentation (RFC 2606): nobody can confirm the subscription`;
  const tld = domain.split(".").pop() ?? "";
  if ((RESERVED_TOP_LEVEL as readonly string[]).includes(tld)) {
    return `.${tld} is a reserved top-level domain (RFC 2606): nobody can confirm the subscription`;
  }
  return undefined;
}
