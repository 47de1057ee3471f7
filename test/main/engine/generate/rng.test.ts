import { describe, expect, it } from 'vitest';
import { randomSeed, sequenceRng, Xoshiro128 } from '../../../../src/main/engine/generate/rng';

describe('Xoshiro128 (xoshiro128**)', () => {
  it('matches the reference C implementation from state {1, 2, 3, 4}', () => {
    // Values of next() from prng.di.unimi.it/xoshiro128starstar.c with s = {1, 2, 3, 4}.
    const rng = Xoshiro128.fromState(1, 2, 3, 4);
    const out = Array.from({ length: 6 }, () => rng.nextUint32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('gives the same stream for the same (seed, index) and different streams otherwise', () => {
    const draw = (seed: number, index: number) => {
      const rng = sequenceRng(seed, index);
      return Array.from({ length: 8 }, () => rng.nextFloat());
    };
    expect(draw(42, 0)).toEqual(draw(42, 0));
    expect(draw(42, 1)).not.toEqual(draw(42, 0));
    expect(draw(43, 0)).not.toEqual(draw(42, 0));
    expect(draw(0, 0)).not.toEqual(draw(0, 1));
    expect(draw(0xffffffff, 7)).toEqual(draw(0xffffffff, 7));
  });

  it('draws floats in [0, 1) with a plausible mean and spread', () => {
    const rng = sequenceRng(123, 0);
    const n = 20000;
    let sum = 0;
    let sumSq = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.nextFloat();
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
      sumSq += x * x;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    // Uniform: mean 1/2 (σ of the mean ≈ 0.002), variance 1/12.
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.005);
  });

  it('picks random unsigned 32-bit seeds', () => {
    const seeds = Array.from({ length: 16 }, () => randomSeed());
    for (const s of seeds) {
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(0xffffffff);
    }
    expect(new Set(seeds).size).toBeGreaterThan(1);
  });
});
