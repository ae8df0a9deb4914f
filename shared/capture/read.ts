/**
 * Readers for the values of captured resources: a property may be absent, a string where a number or boolean is
 * meant (Pulumi config and some providers hand them over as text), JSON text or an object. The guardrails and the
 * local stage read resources through these, so both read a value the same way.
 */

export type Props = Record<string, any>;

/** A non-empty string, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A finite number, or a string holding one; undefined otherwise. */
export function num(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** A boolean, or `"true"` / `"false"`; undefined otherwise. */
export function bool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

/** A JSON-text or object property parsed as an object; undefined for anything else (and for text that is not JSON). */
export function json(value: unknown): Record<string, any> | undefined {
  if (typeof value === "string") {
    try {
      const parsed: unknown = JSON.parse(value);
      return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, any>) : undefined;
    } catch {
      return undefined;
    }
  }
  return value !== null && typeof value === "object" ? (value as Record<string, any>) : undefined;
}
