import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomBase62 } from './random.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('randomBase62', () => {
  it('property: exactly `length` characters, all base62 (lengths 1..200)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (n) => {
        const s = randomBase62(n);
        expect(s).toHaveLength(n);
        expect(s).toMatch(/^[0-9A-Za-z]+$/);
      }),
      { numRuns: 300 },
    );
  });

  it('length 0 is the empty string', () => {
    expect(randomBase62(0)).toBe('');
  });

  it('successive values differ', () => {
    const values = new Set(Array.from({ length: 1000 }, () => randomBase62(16)));
    expect(values.size).toBe(1000);
  });

  it('every character is (roughly) equally likely over 62,000 characters', () => {
    const perChar = 1000;
    const s = randomBase62(62 * perChar);
    expect(s).toHaveLength(62 * perChar);
    const counts = new Map<string, number>([...BASE62].map((c) => [c, 0]));
    for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62); // nothing outside the alphabet

    // Each count ~ Binomial(62000, 1/62): mean 1000, sd ~31.5. ±180 is > 5.7 sd (flake rate < 1e-6
    // for all 62), yet catches the modulo bias of `byte % 62` without rejection (+211 for 0..7).
    for (const [c, n] of counts) {
      expect(Math.abs(n - perChar), `count of ${c}: ${n}`).toBeLessThan(180);
    }
    // Chi-square with 61 degrees of freedom: mean 61, sd ~11; 140 is beyond p = 1e-8.
    const chi2 = [...counts.values()].reduce((sum, n) => sum + (n - perChar) ** 2 / perChar, 0);
    expect(chi2).toBeLessThan(140);
  });
});
