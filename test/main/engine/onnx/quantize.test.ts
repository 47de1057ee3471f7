/**
 * The block quantizer against an independent float64 dequantization written here from the
 * MatMulNBits spec (docs/ContribOperators.md: B [N, k_blocks, blob], low nibble first, default
 * zero point 2^(bits-1)), and onnxruntime's MatMulNBits and GatherBlockQuantized reading the
 * same bytes.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../../src/main/engine/onnx/builder';
import { directRows, quantizedBytes, quantizeRows, transposedRows, type BlockQuantization, type QuantizedMatrix } from '../../../../src/main/engine/onnx/quantize';
import { normals } from '../../../helpers/random';

/** Float64 [N, K] weights the quantized bytes stand for, read straight from the spec's layout. */
function dequantize(m: QuantizedMatrix, q: BlockQuantization): Float64Array {
  const out = new Float64Array(m.n * m.k);
  const zpRow = q.bits === 8 ? m.kBlocks : Math.ceil(m.kBlocks / 2);
  for (let n = 0; n < m.n; n++) {
    for (let k = 0; k < m.k; k++) {
      const block = Math.floor(k / q.blockSize);
      const within = k % q.blockSize;
      const byte = m.data[(n * m.kBlocks + block) * m.blobBytes + (q.bits === 8 ? within : within >> 1)] as number;
      const level = q.bits === 8 ? byte : within % 2 === 0 ? byte & 0x0f : byte >> 4;
      let zero = 2 ** (q.bits - 1);
      if (m.zeroPoints) {
        const zb = m.zeroPoints[n * zpRow + (q.bits === 8 ? block : block >> 1)] as number;
        zero = q.bits === 8 ? zb : block % 2 === 0 ? zb & 0x0f : zb >> 4;
      }
      out[n * m.k + k] = (level - zero) * (m.scales[n * m.kBlocks + block] as number);
    }
  }
  return out;
}

function randomMatrix(count: number, seed: number): Float32Array {
  return Float32Array.from(normals(count, seed, 0, 0.05));
}

const sessions: InferenceSession[] = [];
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

const FORMATS: BlockQuantization[] = [
  { bits: 4, blockSize: 32, symmetric: true },
  { bits: 4, blockSize: 16, symmetric: false },
  { bits: 8, blockSize: 32, symmetric: true },
  { bits: 8, blockSize: 128, symmetric: false },
];
// K not a multiple of the block (padding), K smaller than one block, and an odd N.
const SHAPES: [number, number][] = [[45, 7], [64, 12], [20, 3], [300, 5]];

describe('quantizeRows', () => {
  for (const q of FORMATS) {
    for (const [k, n] of SHAPES) {
      it(`${q.bits}-bit, block ${q.blockSize}, ${q.symmetric ? 'symmetric' : 'zero points'}: [N ${n}, K ${k}] dequantizes within half a step of each weight`, () => {
        const w = randomMatrix(n * k, k * 31 + n + q.bits);
        const m = quantizeRows(n, k, directRows(w, n, k), q);
        expect(m.data.length + m.scales.byteLength + (m.zeroPoints?.length ?? 0)).toBe(quantizedBytes(n, k, q));
        const back = dequantize(m, q);
        for (let r = 0; r < n; r++) {
          for (let c = 0; c < k; c++) {
            const scale = Math.abs(m.scales[r * m.kBlocks + Math.floor(c / q.blockSize)] as number);
            const error = Math.abs((back[r * k + c] as number) - (w[r * k + c] as number));
            // Half a step from rounding; a symmetric block's one value opposite its extreme may clamp by a whole step.
            const bound = (q.symmetric ? scale : scale / 2) * (1 + 1e-6) + 1e-12;
            expect(error).toBeLessThanOrEqual(bound);
          }
        }
        if (q.symmetric) {
          // The extreme of each block is represented exactly (it defines the scale).
          for (let r = 0; r < n; r++) {
            for (let b = 0; b < m.kBlocks; b++) {
              let at = b * q.blockSize;
              for (let c = b * q.blockSize; c < Math.min(k, (b + 1) * q.blockSize); c++) if (Math.abs(w[r * k + c] as number) > Math.abs(w[r * k + at] as number)) at = c;
              expect(back[r * k + at]).toBeCloseTo(w[r * k + at] as number, 6);
            }
          }
        }
      });
    }
  }

  it('a transposed Conv1D [K, N] reader quantizes the same rows as the [N, K] matrix itself', () => {
    const k = 40;
    const n = 6;
    const nk = randomMatrix(n * k, 5);
    const kn = new Float32Array(k * n);
    for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) kn[c * n + r] = nk[r * k + c] as number;
    const q: BlockQuantization = { bits: 4, blockSize: 16, symmetric: true };
    const a = quantizeRows(n, k, directRows(nk, n, k), q);
    const b = quantizeRows(n, k, transposedRows(kn, k, n), q);
    expect(b.data).toEqual(a.data);
    expect(b.scales).toEqual(a.scales);
  });

  it('an all-zero block gets scale 0 and dequantizes to zeros', () => {
    const w = new Float32Array(64);
    for (const symmetric of [true, false]) {
      const q: BlockQuantization = { bits: 4, blockSize: 32, symmetric };
      const m = quantizeRows(1, 64, directRows(w, 1, 64), q);
      expect([...dequantize(m, q)].every((v) => v === 0)).toBe(true);
    }
  });

  it('refuses a block size that MatMulNBits does not accept', () => {
    expect(() => quantizeRows(1, 8, () => undefined, { bits: 4, blockSize: 24, symmetric: true })).toThrow(/power of two/);
    expect(() => quantizeRows(1, 8, () => undefined, { bits: 4, blockSize: 8, symmetric: true })).toThrow(/power of two/);
  });
});

describe('onnxruntime reads the quantized bytes as the float64 dequantization says', () => {
  for (const q of FORMATS) {
    for (const [k, n] of [[45, 7], [64, 12]] as const) {
      it(`MatMulNBits ${q.bits}-bit block ${q.blockSize} ${q.symmetric ? 'symmetric' : 'with zero points'}, K ${k}: x·W matches float64 to 1e-5 (accuracy_level 0) and 2% (accuracy_level 4)`, async () => {
        const w = randomMatrix(n * k, k + n * 7 + q.blockSize);
        const m = quantizeRows(n, k, directRows(w, n, k), q);
        const back = dequantize(m, q);
        const rows = 3;
        const x = Float32Array.from(normals(rows * k, 99, 0, 1));
        const expected = new Float64Array(rows * n);
        let scale = 0;
        for (let r = 0; r < rows; r++) {
          for (let o = 0; o < n; o++) {
            let acc = 0;
            for (let i = 0; i < k; i++) acc += (x[r * k + i] as number) * (back[o * k + i] as number);
            expected[r * n + o] = acc;
            scale = Math.max(scale, Math.abs(acc));
          }
        }
        for (const [level, tolerance] of [[0, 1e-5], [4, 0.02]] as const) {
          const g = new GraphBuilder('t');
          const a = g.input('a', 'float32', [rows, k]);
          const zp = m.zeroPoints ? g.initializer('zp', 'uint8', [m.zeroPoints.length], m.zeroPoints) : null;
          const y = g.op('MatMulNBits', [a, g.initializer('b', 'uint8', [n, m.kBlocks, m.blobBytes], m.data), g.initializer('s', 'float32', [n * m.kBlocks], m.scales), zp], {
            K: k, N: n, bits: q.bits, block_size: q.blockSize, accuracy_level: level,
          }, { domain: 'com.microsoft' });
          g.output(y, 'y', 'float32', [rows, n]);
          const session = await InferenceSession.create(g.toModelProto());
          sessions.push(session);
          const out = (await session.run({ a: new Tensor('float32', x, [rows, k]) })).y?.data as Float32Array;
          // accuracy_level 4 quantizes the activations to int8 per block too: errors scale with the largest output.
          for (let i = 0; i < expected.length; i++) expect(Math.abs((out[i] as number) - (expected[i] as number))).toBeLessThanOrEqual(tolerance * Math.max(1, scale));
        }
      });
    }
  }

  for (const bits of [4, 8] as const) {
    it(`GatherBlockQuantized ${bits}-bit on the same bytes returns the dequantized rows (the shared wte)`, async () => {
      const vocab = 9;
      const d = 64;
      const q: BlockQuantization = { bits, blockSize: 32, symmetric: true };
      const w = randomMatrix(vocab * d, 17 + bits);
      const m = quantizeRows(vocab, d, directRows(w, vocab, d), q);
      const back = dequantize(m, q);
      const g = new GraphBuilder('t');
      const ids = g.input('ids', 'int64', [1, 3]);
      const y = g.op('GatherBlockQuantized', [
        g.initializer('data', 'uint8', [vocab, (d * bits) / 8], m.data), ids, g.initializer('scales', 'float32', [vocab, m.kBlocks], m.scales),
      ], { bits, block_size: 32, gather_axis: 0, quantize_axis: 1 }, { domain: 'com.microsoft' });
      g.output(y, 'y', 'float32', [1, 3, d]);
      const session = await InferenceSession.create(g.toModelProto());
      sessions.push(session);
      const picked = [8, 0, 4];
      const out = (await session.run({ ids: new Tensor('int64', BigInt64Array.from(picked, BigInt), [1, 3]) })).y?.data as Float32Array;
      picked.forEach((row, i) => {
        for (let c = 0; c < d; c++) expect(out[i * d + c]).toBeCloseTo(back[row * d + c] as number, 6);
      });
    });
  }
});
