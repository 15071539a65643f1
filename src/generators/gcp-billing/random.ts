/**
 * Seeded randomness for the synthetic GCP billing export: the per-(seed, day) PRNG stream, weighted
 * draws, and the FNV-1a hash used for stable derived ids.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** 32-bit FNV-1a, for stable derived ids. */
export function fnv1a(s: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Uniform draws from pure-rand's xoroshiro128+. Only +, ×, floor and round are applied to the
 * draws (no exp/log), so the same seed gives the same bits on every platform.
 */
export class Rng {
  private readonly g: ReturnType<typeof xoroshiro128plus>;

  constructor(seed: number, epochDay: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const h = fmix32(fmix32(fmix32(lo ^ 0x9e3779b9) ^ hi) ^ epochDay);
    this.g = xoroshiro128plus(h | 0);
    // xoroshiro's first outputs from a 32-bit seed are weakly mixed.
    for (let i = 0; i < 16; i++) this.g.next();
  }

  /** [0, 1) with 32 bits of resolution. */
  float(): number {
    return (this.g.next() >>> 0) * 2.3283064365386963e-10;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.float() * xs.length)] as T;
  }

  weighted<T>(xs: readonly T[], cumulative: readonly number[]): T {
    const total = cumulative[cumulative.length - 1] ?? 0;
    const x = this.float() * total;
    let i = 0;
    while (i < cumulative.length - 1 && x >= (cumulative[i] ?? 0)) i++;
    return xs[i] as T;
  }

  hex(length: number): string {
    let s = '';
    while (s.length < length) s += (this.g.next() >>> 0).toString(16).padStart(8, '0');
    return s.slice(0, length);
  }
}

export const cumulative = (weights: readonly number[]): number[] => {
  let sum = 0;
  return weights.map((w) => (sum += w));
};
