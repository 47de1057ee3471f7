/**
 * Choosing the next token from a processed logits row: greedy argmax, or
 * multinomial sampling after top-k and top-p with Hugging Face semantics.
 * Rows are vocabulary-sized (50 257 for GPT-2), so nothing here sorts the
 * whole row: candidates come from a bounded heap (partial selection).
 */
import type { Rng } from './rng';

/** Index of the largest finite-or-infinite logit; the first one on ties (torch.argmax). -1 if none is a number above -Infinity. */
export function argmax(row: Float32Array): number {
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/**
 * The `k` best token ids of `row`, best first (higher logit first, lower id
 * first on equal logits). -Infinity and NaN entries are never candidates, so
 * fewer than `k` come back when fewer are finite. O(V log k).
 */
export function topCandidates(row: Float32Array, k: number): number[] {
  const limit = Math.min(k, row.length);
  if (limit <= 0) return [];
  // Min-heap whose root is the worst kept candidate.
  const heap = new Int32Array(limit);
  let size = 0;
  const worse = (a: number, b: number): boolean => {
    const va = row[a] as number;
    const vb = row[b] as number;
    return va < vb || (va === vb && a > b);
  };
  const siftDown = (start: number): void => {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) return;
      const right = left + 1;
      let worst = left;
      if (right < size && worse(heap[right] as number, heap[left] as number)) worst = right;
      if (!worse(heap[worst] as number, heap[i] as number)) return;
      const tmp = heap[i] as number;
      heap[i] = heap[worst] as number;
      heap[worst] = tmp;
      i = worst;
    }
  };
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (!(v > Number.NEGATIVE_INFINITY)) continue;
    if (size < limit) {
      let j = size++;
      heap[j] = i;
      while (j > 0) {
        const parent = (j - 1) >> 1;
        if (!worse(heap[j] as number, heap[parent] as number)) break;
        const tmp = heap[j] as number;
        heap[j] = heap[parent] as number;
        heap[parent] = tmp;
        j = parent;
      }
    } else if (worse(heap[0] as number, i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const ids = Array.from(heap.subarray(0, size));
  ids.sort((a, b) => (row[b] as number) - (row[a] as number) || a - b);
  return ids;
}

/**
 * HF TopKLogitsWarper's kept set: every token whose logit is at least the
 * k-th largest (so ties at the boundary are all kept), best first.
 */
export function topKCandidates(row: Float32Array, k: number): number[] {
  const ids = topCandidates(row, k);
  const last = ids[ids.length - 1];
  if (last === undefined || ids.length < k) return ids;
  const threshold = row[last] as number;
  let tiedKept = 0;
  for (const id of ids) if (row[id] === threshold) tiedKept++;
  let tiedSeen = 0;
  for (let i = 0; i < row.length; i++) {
    if (row[i] !== threshold) continue;
    if (++tiedSeen > tiedKept) ids.push(i);
  }
  return ids;
}

/** Softmax of the logits of `ids` (float64), normalised over those ids only. */
export function softmaxOf(row: Float32Array, ids: readonly number[]): Float64Array {
  const probs = new Float64Array(ids.length);
  if (ids.length === 0) return probs;
  const max = row[ids[0] as number] as number;
  let sum = 0;
  for (let i = 0; i < ids.length; i++) {
    const p = Math.exp((row[ids[i] as number] as number) - max);
    probs[i] = p;
    sum += p;
  }
  for (let i = 0; i < probs.length; i++) probs[i] = (probs[i] as number) / sum;
  return probs;
}

/**
 * HF TopPLogitsWarper on best-first probabilities: a token is kept while the
 * probability mass strictly above it is below `topP` (HF removes a token when
 * the ascending cumulative sum up to it is ≤ 1 − top_p), so at least one is kept.
 * Returns how many leading tokens are kept, or -1 when `probs` ends before the
 * cut (the caller must look at more candidates).
 */
export function nucleusSize(probs: Float64Array, topP: number): number {
  let above = 0;
  for (let i = 0; i < probs.length; i++) {
    if (i > 0 && above >= topP) return i;
    above += probs[i] as number;
  }
  return above >= topP ? probs.length : -1;
}

/** Draws one of `ids` with (unnormalised) weights `weights[0..count)`. */
function drawWeighted(ids: readonly number[], weights: Float64Array, count: number, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += weights[i] as number;
  const target = rng.nextFloat() * total;
  let cumulative = 0;
  for (let i = 0; i < count; i++) {
    cumulative += weights[i] as number;
    if (target < cumulative) return ids[i] as number;
  }
  return ids[count - 1] as number;
}

/** Draws from softmax(row) over the whole row, without sorting. */
function drawFromFullRow(row: Float32Array, rng: Rng): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) if ((row[i] as number) > max) max = row[i] as number;
  if (max === Number.NEGATIVE_INFINITY) return -1;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp((row[i] as number) - max);
  const target = rng.nextFloat() * sum;
  let cumulative = 0;
  let lastFinite = -1;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (!(v > Number.NEGATIVE_INFINITY)) continue;
    lastFinite = i;
    cumulative += Math.exp(v - max);
    if (target < cumulative) return i;
  }
  return lastFinite;
}

/** How many candidates the top-p-only path looks at first; grown ×4 when the nucleus is wider. */
const NUCLEUS_FIRST_GUESS = 64;

/** Top-p without top-k: the nucleus from growing partial selections, normalised over the whole row. */
function drawFromNucleus(row: Float32Array, topP: number, rng: Rng): number {
  let max = Number.NEGATIVE_INFINITY;
  let finite = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (v > Number.NEGATIVE_INFINITY) {
      finite++;
      if (v > max) max = v;
    }
  }
  if (finite === 0) return -1;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp((row[i] as number) - max);
  for (let m = NUCLEUS_FIRST_GUESS; ; m *= 4) {
    const ids = topCandidates(row, m);
    const probs = new Float64Array(ids.length);
    for (let i = 0; i < ids.length; i++) probs[i] = Math.exp((row[ids[i] as number] as number) - max) / sum;
    let keep = nucleusSize(probs, topP);
    // Every finite token is a candidate: rounding may leave the mass a hair under top_p; keep them all.
    if (keep < 0 && ids.length >= finite) keep = ids.length;
    if (keep > 0) return drawWeighted(ids, probs, keep, rng);
  }
}

/** Sampling settings after the processors: 0 turns top-k off, 1 turns top-p off. */
export interface SamplingSettings {
  topK: number;
  topP: number;
}

/**
 * Multinomial draw from `row` (temperature already applied) restricted by
 * top-k then top-p, HF order. Returns -1 when no token has a finite logit.
 */
export function sampleToken(row: Float32Array, { topK, topP }: SamplingSettings, rng: Rng): number {
  if (topK > 0) {
    const ids = topKCandidates(row, topK);
    if (ids.length === 0) return -1;
    const probs = softmaxOf(row, ids);
    const keep = topP < 1 ? nucleusSize(probs, topP) : ids.length;
    return drawWeighted(ids, probs, keep > 0 ? keep : ids.length, rng);
  }
  if (topP < 1) return drawFromNucleus(row, topP, rng);
  return drawFromFullRow(row, rng);
}
