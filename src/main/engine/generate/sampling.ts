/**
 * Choosing the next token from a processed logits row: greedy argmax, or
 * multinomial sampling after top-k and top-p with Hugging Face semantics.
 * Rows are vocabulary-sized (50 257 for GPT-2), so nothing here sorts the
 * whole row: top-k candidates come from a bounded heap (partial selection),
 * top-p-only ones from logit buckets (a bucket sort of the nucleus alone).
 */
import type { Rng } from './rng';

/** Index of the largest finite-or-infinite logit; the first one on ties (torch.argmax). -1 if none is a number above -Infinity. */
export function argmax(row: Float32Array | Float64Array): number {
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
  // Once the heap is full, a later token replaces the root only with a strictly higher logit: ids
  // grow along the row, so a tie always loses to the kept (lower) id. That one comparison is the
  // whole cost for almost every token.
  let rootValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (size === limit) {
      if (v > rootValue) {
        heap[0] = i;
        siftDown(0);
        rootValue = row[heap[0] as number] as number;
      }
      continue;
    }
    if (!(v > Number.NEGATIVE_INFINITY)) continue;
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
    if (size === limit) rootValue = row[heap[0] as number] as number;
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
function drawWeighted(ids: ArrayLike<number>, weights: Float64Array, count: number, rng: Rng): number {
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

/**
 * Logit buckets of the top-p-only path below the row's maximum, plus one
 * (index NUCLEUS_BUCKETS) for every finite token below their span.
 */
const NUCLEUS_BUCKETS = 4096;
/** Bucket mark of tokens that are never candidates (-Infinity). */
const NOT_A_CANDIDATE = NUCLEUS_BUCKETS + 1;
/** Buckets up to this size are sorted by insertion; larger ones by the engine's sort. */
const INSERTION_SORT_LIMIT = 32;

/** Row-sized buffers the top-p-only path reuses (sampling is synchronous, so one set serves every row). */
const scratch = {
  exps: new Float64Array(0),
  bucketOf: new Uint16Array(0),
  ids: new Int32Array(0),
  probs: new Float64Array(0),
  mass: new Float64Array(NUCLEUS_BUCKETS + 1),
  /** Per bucket: its size, then its start in `ids`, then (after the scatter) its end. */
  ends: new Int32Array(NUCLEUS_BUCKETS + 1),
};

function rowBuffers(size: number): typeof scratch {
  if (scratch.exps.length < size) {
    scratch.exps = new Float64Array(size);
    scratch.bucketOf = new Uint16Array(size);
    scratch.ids = new Int32Array(size);
    scratch.probs = new Float64Array(size);
  }
  return scratch;
}

/** Sorts `ids[from..to)` (ascending ids) best first: higher logit first, lower id first on equal logits. */
function sortBestFirst(row: Float32Array, ids: Int32Array, from: number, to: number): void {
  let sorted = true;
  for (let i = from + 1; i < to && sorted; i++) sorted = (row[ids[i - 1] as number] as number) >= (row[ids[i] as number] as number);
  // Quantised (e.g. float16) logits fill whole buckets with one value: already in order.
  if (sorted) return;
  if (to - from > INSERTION_SORT_LIMIT) {
    ids.subarray(from, to).sort((a, b) => (row[b] as number) - (row[a] as number) || a - b);
    return;
  }
  // Stable on equal logits, so the ascending ids keep their order among ties.
  for (let i = from + 1; i < to; i++) {
    const id = ids[i] as number;
    const value = row[id] as number;
    let j = i - 1;
    while (j >= from && (row[ids[j] as number] as number) < value) {
      ids[j + 1] = ids[j] as number;
      j--;
    }
    ids[j + 1] = id;
  }
}

/**
 * The candidates of buckets 0..`last` best first, in `buffers.ids[0..n)`; returns n. Buckets hold
 * logit ranges in descending order, so the result is a prefix of the whole row sorted best first.
 */
function candidatesUpTo(row: Float32Array, buffers: typeof scratch, last: number): number {
  const { bucketOf, ids, ends } = buffers;
  ends.fill(0);
  for (let i = 0; i < row.length; i++) {
    const b = bucketOf[i] as number;
    if (b <= last) ends[b] = (ends[b] as number) + 1;
  }
  let n = 0;
  for (let b = 0; b <= last; b++) {
    const start = n;
    n += ends[b] as number;
    ends[b] = start;
  }
  for (let i = 0; i < row.length; i++) {
    const b = bucketOf[i] as number;
    if (b > last) continue;
    const at = ends[b] as number;
    ids[at] = i;
    ends[b] = at + 1;
  }
  let from = 0;
  for (let b = 0; b <= last; b++) {
    const to = ends[b] as number;
    sortBestFirst(row, ids, from, to);
    from = to;
  }
  return n;
}

/** Candidates best first with their probabilities over the whole row; the first `keep` are kept. */
interface Nucleus {
  ids: ArrayLike<number>;
  probs: Float64Array;
  keep: number;
}

/**
 * Top-p without top-k, normalised over the whole row: the same kept set and order as sorting
 * every finite token best first and applying nucleusSize, in O(V) plus a sort of the nucleus that
 * runs inside buckets of nearly equal logits. The arrays are scratch buffers, valid until the next
 * call. Null when no token is finite.
 */
function nucleusOf(row: Float32Array, topP: number): Nucleus | null {
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  let finite = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (v > Number.NEGATIVE_INFINITY) {
      finite++;
      if (v > max) max = v;
      if (v < min) min = v;
    }
  }
  if (finite === 0) return null;
  const buffers = rowBuffers(row.length);
  const { exps, bucketOf, ids, probs, mass } = buffers;
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp((row[i] as number) - max);
    exps[i] = e;
    sum += e;
  }
  if (!Number.isFinite(sum)) {
    // NaN or +Infinity logits: every probability is NaN, and the cut keeps every finite token.
    const all = topCandidates(row, finite);
    for (let i = 0; i < all.length; i++) probs[i] = (exps[all[i] as number] as number) / sum;
    const keep = nucleusSize(probs.subarray(0, all.length), topP);
    return { ids: all, probs, keep: keep > 0 ? keep : all.length };
  }
  // Tokens more than `span` below the maximum hold at most (1 − top_p) / 2 of the mass together
  // (each at most e^−span / sum), so the cut lies inside the span and the bucket beyond it is rarely read.
  const span = Math.min(max - min, Math.log((2 * finite) / (sum * (1 - topP))));
  const scale = span > 0 ? NUCLEUS_BUCKETS / span : 0;
  mass.fill(0);
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (!(v > Number.NEGATIVE_INFINITY)) {
      bucketOf[i] = NOT_A_CANDIDATE;
      continue;
    }
    // Monotone in v: a higher logit never lands in a later bucket, and equal logits share one.
    const b = Math.min(NUCLEUS_BUCKETS, Math.floor((max - v) * scale));
    bucketOf[i] = b;
    mass[b] = (mass[b] as number) + (exps[i] as number);
  }
  const target = topP * sum;
  let last = 0;
  for (let cumulative = 0; last < NUCLEUS_BUCKETS; last++) {
    cumulative += mass[last] as number;
    if (cumulative >= target) break;
  }
  let n = candidatesUpTo(row, buffers, last);
  for (let i = 0; i < n; i++) probs[i] = (exps[ids[i] as number] as number) / sum;
  let keep = nucleusSize(probs.subarray(0, n), topP);
  if (keep < 0 && last < NUCLEUS_BUCKETS) {
    // The buckets' sum reached top_p but the best-first running sum (rounded differently) did not: take every bucket.
    n = candidatesUpTo(row, buffers, NUCLEUS_BUCKETS);
    for (let i = 0; i < n; i++) probs[i] = (exps[ids[i] as number] as number) / sum;
    keep = nucleusSize(probs.subarray(0, n), topP);
  }
  // Every finite token is a candidate: rounding may leave the mass a hair under top_p; keep them all.
  return { ids, probs, keep: keep > 0 ? keep : n };
}

function drawFromNucleus(row: Float32Array, topP: number, rng: Rng): number {
  const nucleus = nucleusOf(row, topP);
  return nucleus ? drawWeighted(nucleus.ids, nucleus.probs, nucleus.keep, rng) : -1;
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

/** The tokens a draw can give and their probabilities, normalised over them. */
export interface TokenDistribution {
  readonly ids: readonly number[];
  readonly probs: Float64Array;
}

function normalised(ids: ArrayLike<number>, weights: Float64Array, count: number): TokenDistribution {
  let total = 0;
  for (let i = 0; i < count; i++) total += weights[i] as number;
  const probs = new Float64Array(count);
  for (let i = 0; i < count; i++) probs[i] = (weights[i] as number) / total;
  return { ids: Array.from({ length: count }, (_, i) => ids[i] as number), probs };
}

/**
 * What sampleToken draws from, as an explicit distribution: the kept set of top-k then top-p
 * (HF semantics) with its renormalised probabilities. Null when no token has a finite logit.
 * O(V) (plus the kept set's sort); for the accept/resample rule of speculative decoding.
 */
export function tokenDistribution(row: Float32Array, { topK, topP }: SamplingSettings): TokenDistribution | null {
  if (topK > 0) {
    const ids = topKCandidates(row, topK);
    if (ids.length === 0) return null;
    const probs = softmaxOf(row, ids);
    const keep = topP < 1 ? nucleusSize(probs, topP) : ids.length;
    return normalised(ids, probs, keep > 0 ? keep : ids.length);
  }
  if (topP < 1) {
    const nucleus = nucleusOf(row, topP);
    return nucleus ? normalised(nucleus.ids, nucleus.probs, nucleus.keep) : null;
  }
  const ids: number[] = [];
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (v > Number.NEGATIVE_INFINITY) {
      ids.push(i);
      if (v > max) max = v;
    }
  }
  if (ids.length === 0) return null;
  const weights = Float64Array.from(ids, (id) => Math.exp((row[id] as number) - max));
  return normalised(ids, weights, ids.length);
}
