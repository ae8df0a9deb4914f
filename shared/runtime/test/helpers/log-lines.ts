/** Runs `work` and returns it with the log lines (JSON, one a write) it wrote to stdout meanwhile. */
export async function withLogs<T>(work: () => Promise<T>): Promise<[T, any[]]> {
  const lines: any[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (lines.push(JSON.parse(chunk)), true)) as typeof process.stdout.write;
  try {
    return [await work(), lines];
  } finally {
    process.stdout.write = write;
  }
}
