/**
 * Seeded randomness for sampling. Each sequence of a batch draws from its own
 * stream derived from (seed, sequence index), so sequence i's text never
 * depends on how many sequences run beside it.
 */
import { randomInt } from 'node:crypto';

/** A source of uniform doubles in [0, 1). */
export interface Rng {
  /** Next uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number;
  /** Next uniform unsigned 32-bit integer. */
  nextUint32(): number;
}

/** SplitMix32 (Vigna's 32-bit finaliser): spreads a 32-bit state into well-mixed seeds. */
function splitMix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** xoshiro128** 1.1 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c). */
export class Xoshiro128 implements Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** Seeds the four state words from (seed, stream) through SplitMix32, as the authors recommend. */
  constructor(seed: number, stream = 0) {
    // Mix the stream index in first so that (seed, i) and (seed', j) never share a SplitMix walk by accident.
    const state = { s: (seed >>> 0) ^ Math.imul((stream >>> 0) + 1, 0x9e3779b1) };
    splitMix32(state);
    this.#s0 = splitMix32(state);
    this.#s1 = splitMix32(state);
    this.#s2 = splitMix32(state);
    this.#s3 = splitMix32(state);
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1; // the all-zero state is a fixed point
  }

  /** Test only: a generator with its raw state words, to check against the authors' reference outputs. */
  static fromState(s0: number, s1: number, s2: number, s3: number): Xoshiro128 {
    const rng = new Xoshiro128(0);
    rng.#s0 = s0 | 0;
    rng.#s1 = s1 | 0;
    rng.#s2 = s2 | 0;
    rng.#s3 = s3 | 0;
    return rng;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The random stream of sequence `index` under `seed`. */
export function sequenceRng(seed: number, index: number): Rng {
  return new Xoshiro128(seed, index);
}

/** A fresh unsigned 32-bit seed from the OS CSPRNG, for requests that did not name one. */
export function randomSeed(): number {
  return randomInt(0, 0x1_0000_0000);
}
