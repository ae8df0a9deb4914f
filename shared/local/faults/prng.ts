/**
 * A small seeded pseudo-random number generator (sfc32, seeded through splitmix32): the same seed gives the same
 * sequence on every machine, so a fault plan is reproducible from its seed alone. Not for cryptography.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param seed any 32-bit unsigned integer */
  constructor(readonly seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new RangeError(`a seed is an integer from 0 to 2^32-1 (got ${seed})`);
    let state = seed >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e37_79b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2_ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A number in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One of the choices, each as likely as its weight (weights of 0 are never picked). */
  pick<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((sum, [, weight]) => sum + Math.max(0, weight), 0);
    if (!(total > 0)) throw new RangeError("pick needs at least one choice with a positive weight");
    let roll = this.next() * total;
    for (const [value, weight] of choices) {
      if (weight <= 0) continue;
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices.filter(([, weight]) => weight > 0).at(-1)![0];
  }
}

/** A random seed for a run (printed, so the run can be repeated with it). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000) >>> 0;
}
