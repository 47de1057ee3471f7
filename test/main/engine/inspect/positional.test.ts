/**
 * Positional encodings against direct formulas: the sinusoids of "Attention Is All You Need"
 * (PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(…)), the checkpoint's wpe as
 * stored (read independently from model.safetensors), and cosine similarities computed in
 * float64. Values travel as float16: allowed error 2^-11 of the value plus 2^-24 (the float16
 * spacing just below 2^-14), and 1e-6 more for the float32 sinusoid.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { halfToNumber } from '../../../../src/main/engine/checkpoint/dtype';
import { Engine } from '../../../../src/main/engine';
import { strided } from '../../../../src/main/engine/inspect/positional';
import { makeRandomCheckpoint, readSafetensorsAsFloat64 } from '../../../helpers/checkpoint-factory';

const tolerance = (value: number): number => 2 ** -11 * Math.abs(value) + 2 ** -24 + 1e-6;

let home: string;
let engine: Engine;
let wpe: Float64Array;
const nPositions = 48;
const nEmbd = 20;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-positional-'));
  const src = join(home, 'src');
  await makeRandomCheckpoint(src, { nLayer: 1, nEmbd, nHead: 2, nPositions, dtype: 'BF16', seed: 41 });
  engine = new Engine({ home });
  await engine.models.import(src, 'pos');
  wpe = readSafetensorsAsFloat64(join(src, 'model.safetensors')).get('wpe.weight')!.data;
});

afterAll(async () => {
  await engine.dispose();
  rmSync(home, { recursive: true, force: true });
});

function sinusoid(pos: number, dim: number, d: number): number {
  const i = Math.floor(dim / 2);
  const angle = pos / Math.pow(10000, (2 * i) / d);
  return dim % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
}

function cosine(a: (k: number) => number, b: (k: number) => number, d: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < d; k++) {
    dot += a(k) * b(k);
    na += a(k) ** 2;
    nb += b(k) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

describe('positional encodings', () => {
  it('the sinusoidal and the learned matrices equal the formula and the stored wpe at every position and dimension', async () => {
    const out = await engine.inspector.positionalEncodings('pos');
    expect(out).toMatchObject({ nPositions, nEmbd });
    expect(out.positions).toEqual(Array.from({ length: nPositions }, (_, i) => i));
    expect(out.dims).toEqual(Array.from({ length: nEmbd }, (_, i) => i));
    // 48 positions are under the default of 256 compared positions: all of them.
    expect(out.similarityPositions).toEqual(out.positions);
    for (const [matrix, expected] of [[out.sinusoidal.values, (p: number, k: number) => sinusoid(p, k, nEmbd)], [out.learned.values, (p: number, k: number) => wpe[p * nEmbd + k]!]] as const) {
      expect(matrix).toMatchObject({ rows: nPositions, cols: nEmbd });
      let min = Infinity;
      let max = -Infinity;
      for (let p = 0; p < nPositions; p++) {
        for (let k = 0; k < nEmbd; k++) {
          const want = expected(p, k);
          expect(Math.abs(halfToNumber(matrix.data[p * nEmbd + k]!) - want)).toBeLessThanOrEqual(tolerance(want));
          min = Math.min(min, want);
          max = Math.max(max, want);
        }
      }
      expect(matrix.min).toBeCloseTo(min, 5);
      expect(matrix.max).toBeCloseTo(max, 5);
    }
    // Position 0 of the sinusoid is sin 0 = 0, cos 0 = 1 in every pair of dimensions.
    expect(Array.from(out.sinusoidal.values.data.subarray(0, 4), halfToNumber)).toEqual([0, 1, 0, 1]);
  });

  it('each similarity matrix is the cosine of the full vectors at every pair of positions', async () => {
    const out = await engine.inspector.positionalEncodings('pos');
    for (const [matrix, vector] of [[out.sinusoidal.similarity, (p: number) => (k: number) => sinusoid(p, k, nEmbd)], [out.learned.similarity, (p: number) => (k: number) => wpe[p * nEmbd + k]!]] as const) {
      expect(matrix).toMatchObject({ rows: nPositions, cols: nPositions });
      for (let a = 0; a < nPositions; a++) {
        for (let b = 0; b < nPositions; b++) {
          const want = cosine(vector(a), vector(b), nEmbd);
          expect(Math.abs(halfToNumber(matrix.data[a * nPositions + b]!) - want)).toBeLessThanOrEqual(tolerance(want));
        }
      }
    }
    // Sinusoids are smooth in position: neighbours are more alike than far positions; random wpe is not.
    const sim = (m: typeof out.sinusoidal.similarity, a: number, b: number) => halfToNumber(m.data[a * nPositions + b]!);
    expect(sim(out.sinusoidal.similarity, 10, 11)).toBeGreaterThan(sim(out.sinusoidal.similarity, 10, 40));
  });

  it('downsampling keeps every stride-th position and dimension, exactly those rows of the full matrices', async () => {
    const full = await engine.inspector.positionalEncodings('pos');
    const small = await engine.inspector.positionalEncodings('pos', { maxPositions: 10, maxDims: 7, maxSimilarityPositions: 10 });
    expect(small.positions).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
    expect(small.similarityPositions).toEqual(small.positions);
    expect(small.dims).toEqual([0, 3, 6, 9, 12, 15, 18]);
    small.positions.forEach((p, r) => {
      small.dims.forEach((k, c) => {
        expect(small.learned.values.data[r * 7 + c]).toBe(full.learned.values.data[p * nEmbd + k]);
        expect(small.sinusoidal.values.data[r * 7 + c]).toBe(full.sinusoidal.values.data[p * nEmbd + k]);
      });
      small.positions.forEach((q, c) => expect(small.learned.similarity.data[r * 10 + c]).toBe(full.learned.similarity.data[p * nPositions + q]));
    });
    expect(strided(5, undefined)).toEqual([0, 1, 2, 3, 4]);
    const fewer = await engine.inspector.positionalEncodings('pos', { maxSimilarityPositions: 4 });
    expect(fewer.similarityPositions).toEqual([0, 12, 24, 36]);
    expect(fewer.learned.values.rows).toBe(nPositions);
    fewer.similarityPositions.forEach((p, r) => fewer.similarityPositions.forEach((q, c) => expect(fewer.sinusoidal.similarity.data[r * 4 + c]).toBe(full.sinusoidal.similarity.data[p * nPositions + q])));
    expect(() => strided(5, 0)).toThrow('must be a positive integer');
  });
});
