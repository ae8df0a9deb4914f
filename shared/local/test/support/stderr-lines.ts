/**
 * Keeps what is written to standard error that includes `marker` (the local stage's own lines go there), and lets
 * everything through. `restore()` puts standard error back.
 */
export function keepStderrLines(marker: string): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    if (text.includes(marker)) lines.push(text);
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
  return {
    lines,
    restore: () => {
      process.stderr.write = write;
    },
  };
}
