import type * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import type { ValidationIssue } from "./errors";

// zod/mini ships no messages ("Invalid input"); the English error map is 3 KB and applied per parse, so nothing
// global changes.
let errorMap: z.core.$ZodErrorMap | undefined;

/** The result of checking a value against a schema: the parsed value, or the issues with their paths. */
export type Validation<T> = { success: true; data: T } | { success: false; issues: ValidationIssue[] };

/** Checks `value` against `schema` and explains every problem with a field path (`items.0.quantity`). */
export function validate<S extends z.ZodMiniType>(schema: S, value: unknown): Validation<z.infer<S>> {
  errorMap ??= en().localeError;
  const result = schema.safeParse(value, { error: errorMap });
  if (result.success) return { success: true, data: result.data as z.infer<S> };
  return {
    success: false,
    issues: result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
  };
}
