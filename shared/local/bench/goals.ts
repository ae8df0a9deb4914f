/**
 * The local stage's speed goals (issue "The local stage as parts", Speed), each checked against the figure a bench
 * run measured and printed beside it: met or not met. A goal whose figure was not measured in the run is left out.
 */

/** One goal: the figure measured, the bound, and whether the figure is on the right side of it. */
export interface GoalCheck {
  name: string;
  /** The measured figure, as printed (`2.7 s`). */
  figure: string;
  /** The goal, as printed (`< 3 s`). */
  goal: string;
  met: boolean;
}

/** The figures of one run of the local-stage bench that the goals are about (each optional: 0 skips a part). */
export interface MeasuredFigures {
  /** Median start-up time of `npm start`, to its ready line. */
  startupMs?: number;
  /** Median time from `POST /orders` to billing's invoice write, while the functions are warming. */
  warmingLatencyMs?: number;
  /** Events per second through the stage (steady state). */
  throughputPerSecond?: number;
  /** The most events per second the SDK floor allows on this machine's cores (measured in the same run). */
  floorPerSecond?: number;
  /** Median time from a handler edit to the new code serving (watch mode). */
  handlerEditMs?: number;
}

export const GOALS = {
  startupMs: 3000,
  warmingLatencyMs: 20,
  shareOfFloor: 0.5,
  handlerEditMs: 500,
} as const;

/** The goals whose figures were measured, in the order the issue lists them. */
export function checkGoals(figures: MeasuredFigures): GoalCheck[] {
  const checks: GoalCheck[] = [];
  if (figures.handlerEditMs !== undefined) {
    checks.push({
      name: "handler edit to new code serving (median)",
      figure: `${Math.round(figures.handlerEditMs)} ms`,
      goal: `< ${GOALS.handlerEditMs} ms`,
      met: figures.handlerEditMs < GOALS.handlerEditMs,
    });
  }
  if (figures.startupMs !== undefined) {
    checks.push({
      name: "start-up to the ready line (median)",
      figure: `${(figures.startupMs / 1000).toFixed(2)} s`,
      goal: `< ${GOALS.startupMs / 1000} s`,
      met: figures.startupMs < GOALS.startupMs,
    });
  }
  if (figures.warmingLatencyMs !== undefined) {
    checks.push({
      name: "POST to the downstream write, warming (median)",
      figure: `${Math.round(figures.warmingLatencyMs)} ms`,
      goal: `< ${GOALS.warmingLatencyMs} ms`,
      met: figures.warmingLatencyMs < GOALS.warmingLatencyMs,
    });
  }
  if (figures.throughputPerSecond !== undefined && figures.floorPerSecond !== undefined && figures.floorPerSecond > 0) {
    const share = figures.throughputPerSecond / figures.floorPerSecond;
    checks.push({
      name: "throughput as a share of the SDK floor (steady)",
      figure: `${share.toFixed(2)} (${Math.round(figures.throughputPerSecond)} of ${Math.round(figures.floorPerSecond)} events/s)`,
      goal: `>= ${GOALS.shareOfFloor}`,
      met: share >= GOALS.shareOfFloor,
    });
  }
  return checks;
}

/** The checks as aligned lines: `<name>  <figure>  goal <goal>  met|NOT MET`. */
export function goalLines(checks: readonly GoalCheck[]): string[] {
  const nameWidth = Math.max(0, ...checks.map((c) => c.name.length));
  const figureWidth = Math.max(0, ...checks.map((c) => c.figure.length));
  const goalWidth = Math.max(0, ...checks.map((c) => c.goal.length));
  return checks.map(
    (c) => `${c.name.padEnd(nameWidth)}  ${c.figure.padEnd(figureWidth)}  goal ${c.goal.padEnd(goalWidth)}  ${c.met ? "met" : "NOT MET"}`,
  );
}
