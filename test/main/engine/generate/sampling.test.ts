import { describe, expect, it } from 'vitest';
import type { Rng } from '../../../../src/main/engine/generate/rng';
import { sequenceRng } from '../../../../src/main/engine/generate/rng';
import {
  argmax, nucleusSize, sampleToken, softmaxOf, topCandidates, topKCandidates,
} from '../../../../src/main/engine/generate/sampling';

const NEG_INF = Number.NEGATIVE_INFINITY;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

function randomRow(rand: () => number, v: number, spread = 8): Float32Array {
  return Float32Array.from({ length: v }, () => (rand() - 0.5) * spread);
}

/** Every finite token, best first, by a full sort (the reference for partial selection). */
function fullSort(row: Float32Array): number[] {
  const ids: number[] = [];
  for (let i = 0; i < row.length; i++) if ((row[i] as number) > NEG_INF) ids.push(i);
  return ids.sort((a, b) => (row[b] as number) - (row[a] as number) || a - b);
}

/**
 * HF's TopK + TopP warpers and the final softmax, literally (float64): keep scores ≥ the k-th largest;
 * sort ascending, remove where the cumulative probability ≤ 1 − top_p, always keep the best.
 * Returns the kept ids (best first) with their renormalised probabilities.
 */
function referenceKept(row: Float32Array, topK: number, topP: number): { ids: number[]; probs: number[] } {
  let scores = Array.from(row, (v) => v as number);
  if (topK > 0) {
    const k = Math.min(topK, scores.length);
    const kth = [...scores].sort((a, b) => b - a)[k - 1] as number;
    scores = scores.map((s) => (s < kth ? NEG_INF : s));
  }
  if (topP < 1) {
    const order = scores.map((_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
    const max = Math.max(...scores);
    const exps = scores.map((s) => Math.exp(s - max));
    const z = exps.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    const removed = new Set<number>();
    order.forEach((id, rank) => {
      cumulative += (exps[id] as number) / z;
      if (cumulative <= 1 - topP && rank < order.length - 1) removed.add(id);
    });
    scores = scores.map((s, i) => (removed.has(i) ? NEG_INF : s));
  }
  const ids = scores.map((_, i) => i).filter((i) => (scores[i] as number) > NEG_INF)
    .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
  const max = scores[ids[0] as number] as number;
  const exps = ids.map((i) => Math.exp((scores[i] as number) - max));
  const z = exps.reduce((a, b) => a + b, 0);
  return { ids, probs: exps.map((e) => e / z) };
}

/** An Rng that replays fixed draws. */
function fixedRng(values: number[]): Rng {
  let i = 0;
  return { nextFloat: () => values[i++ % values.length] as number, nextUint32: () => 0 };
}

/** Inverse-CDF draw; best first, or in id order (the unrestricted path walks the row without sorting it). */
function drawByReference(kept: { ids: number[]; probs: number[] }, u: number, idOrder = false): number {
  if (idOrder) {
    const order = kept.ids.map((_, i) => i).sort((a, b) => (kept.ids[a] as number) - (kept.ids[b] as number));
    kept = { ids: order.map((i) => kept.ids[i] as number), probs: order.map((i) => kept.probs[i] as number) };
  }
  let cumulative = 0;
  for (let i = 0; i < kept.ids.length; i++) {
    cumulative += kept.probs[i] as number;
    if (u < cumulative) return kept.ids[i] as number;
  }
  return kept.ids[kept.ids.length - 1] as number;
}

describe('argmax', () => {
  it('returns the first maximum and skips NaN', () => {
    expect(argmax(Float32Array.from([1, 3, 3, 2]))).toBe(1);
    expect(argmax(Float32Array.from([Number.NaN, -1, NEG_INF]))).toBe(1);
    expect(argmax(Float32Array.from([NEG_INF, NEG_INF]))).toBe(-1);
  });
});

describe('topCandidates (partial selection)', () => {
  it('equals the first k of a full sort on random rows with ties and -Infinity', () => {
    const rand = lcg(3);
    for (let trial = 0; trial < 30; trial++) {
      const row = Float32Array.from({ length: 500 }, () => Math.round((rand() - 0.5) * 40) / 4);
      for (let i = 0; i < 20; i++) row[Math.floor(rand() * 500)] = NEG_INF;
      for (const k of [1, 2, 7, 50, 480, 600]) expect(topCandidates(row, k)).toEqual(fullSort(row).slice(0, k));
    }
  });

  it('topKCandidates keeps every token tied with the k-th, as HF does', () => {
    const row = Float32Array.from([5, 1, 3, 3, 3, 0]);
    expect(topKCandidates(row, 2)).toEqual([0, 2, 3, 4]);
    expect(topKCandidates(row, 1)).toEqual([0]);
    expect(topKCandidates(row, 10)).toEqual([0, 2, 3, 4, 1, 5]);
  });
});

describe('nucleusSize', () => {
  it('keeps tokens while the mass above them is below top_p, at least one', () => {
    const probs = Float64Array.from([0.5, 0.3, 0.15, 0.05]);
    expect(nucleusSize(probs, 0.1)).toBe(1);
    expect(nucleusSize(probs, 0.5)).toBe(1);
    expect(nucleusSize(probs, 0.6)).toBe(2);
    expect(nucleusSize(probs, 0.9)).toBe(3);
    expect(nucleusSize(probs, 0.99)).toBe(4);
    expect(nucleusSize(Float64Array.from([0.2, 0.1]), 0.5)).toBe(-1);
  });
});

describe('sampleToken', () => {
  it('picks the same token as the literal HF top-k/top-p reference for the same uniform draw', () => {
    const rand = lcg(11);
    const settings: [number, number][] = [[0, 1], [50, 1], [0, 0.9], [0, 0.5], [40, 0.8], [5, 0.3], [1, 1], [0, 0.999]];
    for (let trial = 0; trial < 12; trial++) {
      // Wide flat rows make the top-p-only path grow past its first 64 candidates.
      const row = randomRow(rand, trial % 2 === 0 ? 2000 : 300, trial % 3 === 0 ? 1 : 10);
      for (const [topK, topP] of settings) {
        const kept = referenceKept(row, topK, topP);
        for (let d = 0; d < 5; d++) {
          const u = rand();
          expect(sampleToken(Float32Array.from(row), { topK, topP }, fixedRng([u])), `k=${topK} p=${topP} u=${u}`)
            .toBe(drawByReference(kept, u, topK === 0 && topP === 1));
        }
      }
    }
  });

  it('matches the reference on flat GPT-2-wide rows with top-k 0 and top-p 0.9, token for token', () => {
    // Flat rows put most of the vocabulary in the nucleus; every third row is quantised to float16's
    // step near 1 (whole runs of tied logits) and every fourth has banned tokens.
    for (let seed = 0; seed < 16; seed++) {
      const rand = lcg(1000 + seed);
      const row = randomRow(rand, 50257, seed % 2 === 0 ? 1 : 3);
      if (seed % 3 === 0) row.forEach((v, i) => (row[i] = Math.round(v * 1024) / 1024));
      if (seed % 4 === 0) for (let i = 0; i < 2000; i++) row[Math.floor(rand() * row.length)] = NEG_INF;
      const kept = referenceKept(row, 0, 0.9);
      for (let d = 0; d < 8; d++) {
        const u = rand();
        expect(sampleToken(Float32Array.from(row), { topK: 0, topP: 0.9 }, fixedRng([u])), `seed=${seed} u=${u}`)
          .toBe(drawByReference(kept, u));
      }
    }
  });

  it('samples with the softmax frequencies (10 000 draws, 5σ bound)', () => {
    const row = Float32Array.from([2, 1, 0, -1, NEG_INF]);
    const probs = softmaxOf(row, [0, 1, 2, 3]);
    const rng = sequenceRng(5, 0);
    const n = 10000;
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[sampleToken(row, { topK: 0, topP: 1 }, rng)]! += 1;
    expect(counts[4]).toBe(0);
    for (let t = 0; t < 4; t++) {
      const p = probs[t] as number;
      expect(Math.abs((counts[t] as number) / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('returns -1 when every token is banned', () => {
    const row = Float32Array.from([NEG_INF, NEG_INF]);
    expect(sampleToken(row, { topK: 0, topP: 1 }, fixedRng([0.5]))).toBe(-1);
    expect(sampleToken(row, { topK: 3, topP: 1 }, fixedRng([0.5]))).toBe(-1);
    expect(sampleToken(row, { topK: 0, topP: 0.5 }, fixedRng([0.5]))).toBe(-1);
  });
});
