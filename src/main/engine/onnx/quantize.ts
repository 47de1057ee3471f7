/**
 * Round-to-nearest block quantization of weight matrices into the layout of onnxruntime's
 * com.microsoft MatMulNBits (docs/ContribOperators.md): B is [N, k_blocks, blob] with each
 * row n holding the K weights of output n, blocks of `blockSize` along K, 4-bit values packed
 * two to a byte (low nibble first), one float32 scale per block, and optional zero points
 * (packed the same way; absent means 2^(bits-1)). The same bytes read as [N, K·bits/8] are
 * GatherBlockQuantized's data with quantize_axis = 1, which is how the tied wte is shared.
 */

/** How a matrix is quantized. */
export interface BlockQuantization {
  readonly bits: 4 | 8;
  /** Weights per block along K (a power of two ≥ 16, as MatMulNBits requires). */
  readonly blockSize: number;
  /** true: no zero points, scale from the largest magnitude; false: per-block min/max with a zero point. */
  readonly symmetric: boolean;
}

/** A quantized [N, K] matrix. */
export interface QuantizedMatrix {
  readonly n: number;
  readonly k: number;
  readonly kBlocks: number;
  /** Bytes per block: blockSize · bits / 8. */
  readonly blobBytes: number;
  /** [N, kBlocks, blobBytes] */
  readonly data: Uint8Array;
  /** [N · kBlocks] */
  readonly scales: Float32Array;
  /** Asymmetric only: [N · zeroPointBytesPerRow], packed like the data. */
  readonly zeroPoints?: Uint8Array;
}

/** Zero-point bytes per row of N: one per block for 8 bits, two blocks per byte for 4. */
export function zeroPointBytesPerRow(kBlocks: number, bits: 4 | 8): number {
  return bits === 8 ? kBlocks : Math.ceil(kBlocks / 2);
}

/** Bytes the quantized form of an [N, K] matrix takes (data, scales, zero points). */
export function quantizedBytes(n: number, k: number, q: BlockQuantization): number {
  const kBlocks = Math.ceil(k / q.blockSize);
  const data = n * kBlocks * ((q.blockSize * q.bits) / 8);
  const zeroPoints = q.symmetric ? 0 : n * zeroPointBytesPerRow(kBlocks, q.bits);
  return data + n * kBlocks * 4 + zeroPoints;
}

/**
 * Quantizes the rows of an [N, K] matrix; `readRow(n, out)` fills `out` (length K) with row n,
 * so a caller can feed a transposed GPT-2 Conv1D weight ([K, N] on disk) without materializing it.
 *
 * Symmetric blocks use the largest-magnitude value m: scale = m / −2^(bits−1), so m lands exactly
 * on the lowest level and the whole range [−2^(bits−1), 2^(bits−1) − 1] is used (ggml's q4_0
 * and onnxruntime's own MLAS quantizer do the same). Asymmetric blocks stretch [min(lo, 0),
 * max(hi, 0)] over all 2^bits levels with a zero point, so 0 stays exact and padding dequantizes
 * to 0. Every value is rounded to the nearest level.
 */
export function quantizeRows(n: number, k: number, readRow: (row: number, out: Float32Array) => void, q: BlockQuantization): QuantizedMatrix {
  const { bits, blockSize, symmetric } = q;
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new Error(`block size ${blockSize} must be a power of two ≥ 16`);
  }
  const kBlocks = Math.ceil(k / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  const levels = (1 << bits) - 1;
  const defaultZero = 1 << (bits - 1);
  const data = new Uint8Array(n * kBlocks * blobBytes);
  const scales = new Float32Array(n * kBlocks);
  const zpRow = zeroPointBytesPerRow(kBlocks, bits);
  const zeroPoints = symmetric ? undefined : new Uint8Array(n * zpRow);
  const row = new Float32Array(k);
  const levelsOfBlock = new Uint8Array(blockSize);

  for (let r = 0; r < n; r++) {
    readRow(r, row);
    for (let b = 0; b < kBlocks; b++) {
      const start = b * blockSize;
      const end = Math.min(k, start + blockSize);
      let scale: number;
      let zero: number;
      if (symmetric) {
        let extreme = 0;
        for (let i = start; i < end; i++) {
          const v = row[i] as number;
          if (Math.abs(v) > Math.abs(extreme)) extreme = v;
        }
        scale = Math.fround(extreme / -defaultZero);
        zero = defaultZero;
      } else {
        let lo = 0;
        let hi = 0;
        for (let i = start; i < end; i++) {
          const v = row[i] as number;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        scale = Math.fround((hi - lo) / levels);
        zero = scale === 0 ? 0 : Math.min(levels, Math.max(0, Math.round(-lo / scale)));
      }
      const inverse = scale === 0 ? 0 : 1 / scale;
      for (let i = 0; i < blockSize; i++) {
        const at = start + i;
        if (at >= end) {
          levelsOfBlock[i] = zero;
          continue;
        }
        const level = Math.round((row[at] as number) * inverse) + zero;
        levelsOfBlock[i] = level < 0 ? 0 : level > levels ? levels : level;
      }
      scales[r * kBlocks + b] = scale;
      const base = (r * kBlocks + b) * blobBytes;
      if (bits === 8) {
        data.set(levelsOfBlock, base);
      } else {
        for (let i = 0; i < blobBytes; i++) data[base + i] = (levelsOfBlock[2 * i] as number) | ((levelsOfBlock[2 * i + 1] as number) << 4);
      }
      if (zeroPoints) {
        if (bits === 8) zeroPoints[r * zpRow + b] = zero;
        else zeroPoints[r * zpRow + (b >> 1)] = ((zeroPoints[r * zpRow + (b >> 1)] as number) | (zero << ((b & 1) * 4)));
      }
    }
  }
  return { n, k, kBlocks, blobBytes, data, scales, ...(zeroPoints ? { zeroPoints } : {}) };
}

/** A reader of row n of the transpose of a row-major [K, N] matrix (GPT-2's Conv1D layout). */
export function transposedRows(matrix: Float32Array, k: number, n: number): (row: number, out: Float32Array) => void {
  if (matrix.length !== k * n) throw new Error(`matrix of ${matrix.length} values is not [${k}, ${n}]`);
  return (row, out) => {
    for (let i = 0; i < k; i++) out[i] = matrix[i * n + row] as number;
  };
}

/** A reader of row n of a row-major [N, K] matrix (the tied wte as lm_head). */
export function directRows(matrix: Float32Array, n: number, k: number): (row: number, out: Float32Array) => void {
  if (matrix.length !== k * n) throw new Error(`matrix of ${matrix.length} values is not [${n}, ${k}]`);
  return (row, out) => out.set(matrix.subarray(row * k, (row + 1) * k));
}
