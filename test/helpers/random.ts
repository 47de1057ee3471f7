/**
 * Seeded randomness for tests and benches: a small uniform generator, a seed per
 * named stream, and normal samples. Deterministic on every platform, so random
 * checkpoints and randomized tests are reproducible from their seed.
 */

/** mulberry32: a small, fast, seedable uniform [0, 1) generator. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of `name` mixed with `seed`: every named stream (e.g. each tensor) gets its own seed. */
export function tensorSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Fills `out` with N(mean, std²) samples drawn from `next` (Box–Muller: two samples per two draws). */
export function fillNormal(out: Float32Array | Float64Array, next: () => number, mean: number, std: number): void {
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - next()));
    const angle = 2 * Math.PI * next();
    out[i] = mean + std * r * Math.cos(angle);
    if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(angle);
  }
}

/** `count` samples of N(mean, std²) from the mulberry32 stream seeded with `seed`. */
export function normals(count: number, seed: number, mean: number, std: number): Float64Array {
  const out = new Float64Array(count);
  fillNormal(out, mulberry32(seed), mean, std);
  return out;
}
