/**
 * Positional encodings side by side: the fixed sinusoids of "Attention Is All You Need" (§3.5) and
 * the position embeddings a GPT-2 checkpoint learned (wpe), each as a positions × dimensions matrix
 * and as the cosine similarity of every position with every other, compact (float16) for a heatmap.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { decodeToFloat32, numberToHalf } from '../checkpoint/dtype';
import type { TensorLocation } from '../types';
import { EngineError } from '../types';

/** A matrix of float16 values, rows × cols, row-major. */
export interface HalfMatrix {
  readonly rows: number;
  readonly cols: number;
  /** IEEE half-precision bit patterns, row-major. */
  readonly data: Uint16Array;
  /** Smallest and largest value (before rounding), for a colour scale. */
  readonly min: number;
  readonly max: number;
}

/** One encoding: its values at the kept positions and dimensions, and the positions' cosine similarities. */
export interface PositionalEncoding {
  /** [positions.length × dims.length]: value of dimension dims[c] at position positions[r]. */
  readonly values: HalfMatrix;
  /** [similarityPositions.length²]: cosine similarity of the full vectors at similarityPositions[r] and [c]. */
  readonly similarity: HalfMatrix;
}

/** Both encodings of a model, over the same positions and dimensions. */
export interface PositionalEncodingsPayload {
  readonly nPositions: number;
  readonly nEmbd: number;
  /** The positions kept (every `stride`-th, from 0). */
  readonly positions: readonly number[];
  /** The dimensions kept in `values`. */
  readonly dims: readonly number[];
  /** The positions the similarity matrices compare (every n-th, from 0). */
  readonly similarityPositions: readonly number[];
  readonly sinusoidal: PositionalEncoding;
  readonly learned: PositionalEncoding;
}

/** How much of the matrices to keep. */
export interface PositionalOptions {
  /** At most this many positions (default: all); kept by stride, not averaged: averaging would wash out the fast sinusoids. */
  readonly maxPositions?: number;
  /** At most this many dimensions in `values` (default: all); the similarity always uses every dimension. */
  readonly maxDims?: number;
  /**
   * At most this many positions in the similarity matrices (default 256): their cost grows with the
   * square (GPT-2 Large at all 1024 positions: 671 M multiply-adds on the calling thread).
   */
  readonly maxSimilarityPositions?: number;
}

/** Default size of the similarity matrices. */
export const DEFAULT_SIMILARITY_POSITIONS = 256;

/** PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)): [nPositions × d], row-major. */
export function sinusoidalEncoding(nPositions: number, d: number): Float32Array {
  const out = new Float32Array(nPositions * d);
  for (let i = 0; i < d; i += 2) {
    const frequency = 1 / 10000 ** (i / d);
    for (let pos = 0; pos < nPositions; pos++) {
      out[pos * d + i] = Math.sin(pos * frequency);
      if (i + 1 < d) out[pos * d + i + 1] = Math.cos(pos * frequency);
    }
  }
  return out;
}

/** Indices 0, s, 2s, … (at most `max` of them) out of `count`. */
export function strided(count: number, max: number | undefined): number[] {
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new EngineError('bad_input', `${max} must be a positive integer`);
  const stride = max === undefined || max >= count ? 1 : Math.ceil(count / max);
  return Array.from({ length: Math.ceil(count / stride) }, (_, k) => k * stride);
}

function toHalfMatrix(rows: number, cols: number, value: (r: number, c: number) => number): HalfMatrix {
  const data = new Uint16Array(rows * cols);
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = value(r, c);
      if (v < min) min = v;
      if (v > max) max = v;
      data[r * cols + c] = numberToHalf(v);
    }
  }
  return { rows, cols, data, min, max };
}

/** Cosine similarity of rows `positions` of `matrix` [n × d], every dimension used. */
function cosineSimilarity(matrix: Float32Array, d: number, positions: readonly number[]): HalfMatrix {
  const n = positions.length;
  const unit = new Float64Array(n * d);
  positions.forEach((pos, r) => {
    let norm = 0;
    for (let k = 0; k < d; k++) norm += (matrix[pos * d + k] as number) ** 2;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < d; k++) unit[r * d + k] = (matrix[pos * d + k] as number) * scale;
  });
  const sims = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += (unit[a * d + k] as number) * (unit[b * d + k] as number);
      sims[a * n + b] = dot;
      sims[b * n + a] = dot;
    }
  }
  return toHalfMatrix(n, n, (r, c) => sims[r * n + c] as number);
}

function encodingOf(matrix: Float32Array, d: number, positions: readonly number[], dims: readonly number[], similarityPositions: readonly number[]): PositionalEncoding {
  return {
    values: toHalfMatrix(positions.length, dims.length, (r, c) => matrix[(positions[r] as number) * d + (dims[c] as number)] as number),
    similarity: cosineSimilarity(matrix, d, similarityPositions),
  };
}

/** Reads a checkpoint tensor as float32 (exact for F32/F16/BF16). */
export function readTensorFloat32(t: TensorLocation): Float32Array {
  const bytes = new Uint8Array(t.byteLength);
  const fd = openSync(t.file, 'r');
  try {
    let done = 0;
    while (done < t.byteLength) {
      const n = readSync(fd, bytes, done, t.byteLength - done, t.offset + done);
      if (n === 0) throw new EngineError('bad_input', `${t.file}: ends inside tensor ${t.name}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return decodeToFloat32(bytes, t.dtype);
}

/** The sinusoidal and the learned encoding of a model whose wpe is `wpe` [nPositions × nEmbd]. */
export function positionalEncodings(wpe: Float32Array, nPositions: number, nEmbd: number, options: PositionalOptions = {}): PositionalEncodingsPayload {
  if (wpe.length !== nPositions * nEmbd) throw new EngineError('internal', `wpe has ${wpe.length} values, expected ${nPositions} × ${nEmbd}`);
  const positions = strided(nPositions, options.maxPositions);
  const dims = strided(nEmbd, options.maxDims);
  const similarityPositions = strided(nPositions, options.maxSimilarityPositions ?? DEFAULT_SIMILARITY_POSITIONS);
  return {
    nPositions,
    nEmbd,
    positions,
    dims,
    similarityPositions,
    sinusoidal: encodingOf(sinusoidalEncoding(nPositions, nEmbd), nEmbd, positions, dims, similarityPositions),
    learned: encodingOf(wpe, nEmbd, positions, dims, similarityPositions),
  };
}
