import type { FunctionHost } from "../../lambda";

/**
 * Makes `host` answer every invocation as a function that threw (an unhandled error, as Lambda reports it) while
 * `when()` holds, and run it as usual otherwise. Returns what puts the host back.
 */
export function failInvocations(host: FunctionHost, when: () => boolean = () => true): () => void {
  const invoke = host.invoke.bind(host);
  host.invoke = async (event, options = {}) =>
    when()
      ? {
          ok: false,
          requestId: options.requestId ?? "r",
          durationMs: 1,
          coldStart: false,
          traceHeader: options.traceHeader ?? "",
          error: { errorType: "Error", errorMessage: "injected failure", trace: [] },
        }
      : invoke(event, options);
  return () => {
    host.invoke = invoke;
  };
}
