/**
 * Precision variants end to end on small random shapes (odd head counts, head sizes that are
 * not a multiple of 8, a width that is not a whole number of quantization blocks, an untied
 * lm_head, F16 storage): converted through the store, measured against fp32, and decoded
 * greedily through the Engine, with each precision's output checked against the independent
 * float64 forward pass of the original weights.
 *
 * Bounds, and why (logits here are O(1–10); the random weights make next-token distributions
 * far flatter than a trained model's, so near-ties are common and greedy agreement alone would
 * say little):
 * - fp16: weights and matmul inputs rounded to 11 significant bits (relative error ≤ 2^-11 each),
 *   so logits move by ~1e-3 and KL (second order in the shift) by ~1e-6. Measured on these
 *   shapes: mean KL ≤ 1.2e-6, greedy agreement ≥ 99.5%, greedy regret ≤ 0.003 logit. Bounds: mean
 *   KL ≤ 1e-5, agreement ≥ 95%, regret ≤ 0.03.
 * - int8: 255 levels per block of 32 for the weights and (accuracy_level 4) int8 activations per
 *   block: relative error ~1/256 per factor, logits move by ~1e-2, KL ~1e-3. Measured: mean KL ≤
 *   8.3e-4, agreement ≥ 94.7%, regret 0. Bounds: mean KL ≤ 5e-3, agreement ≥ 85%, regret ≤ 0.25.
 * - int4: 15 levels per block, 16× coarser than int8, so logit shifts ~16× and KL up to ~256×
 *   larger: ~0.1. Measured: mean KL ≤ 0.114, agreement ≥ 55%, regret ≤ 1.09. Bounds: mean KL ≤ 0.6,
 *   agreement ≥ 35%, regret ≤ 2.5.
 * The KL bounds are 5–10× the largest figure measured, the regret bounds 2–10×; an error in the
 * bytes' layout (a swapped nibble, a wrong block or row order) gives KL of several nats and
 * tokens tens of logits off, far outside every bound.
 * Perplexity: |log(ppl_variant / ppl_fp32)| ≤ 2 × max(KL bound, 0.02): the mean log-likelihood
 * of the sample's tokens moves by at most about the mean KL plus the mean logit shift
 * (measured: ≤ 0.055 for int4, ≤ 2e-3 for int8 and fp16).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../../src/main/engine';
import { ModelStore, type StoredVariant } from '../../../../src/main/engine/models/store';
import { qualityWindows } from '../../../../src/main/engine/models/quality-sample';
import { measureQuality } from '../../../../src/main/engine/models/variant-measure';
import { loadTokenizer } from '../../../../src/main/engine/tokenizer';
import { GenerationParams } from '../../../../src/shared/api';
import type { VariantPrecision } from '../../../../src/main/engine/precision';
import { EngineError } from '../../../../src/main/engine/types';
import { makeRandomCheckpoint, type RandomCheckpointOptions } from '../../../helpers/checkpoint-factory';
import { loadReferenceGpt2, referenceLogits, type ReferenceGpt2 } from '../../../helpers/reference-gpt2';
import { useTempDirs } from '../../../helpers/tmp';

const tempDir = useTempDirs('inkwell-variants-');

const BOUNDS: Readonly<Record<VariantPrecision, { meanKl: number; logitRegret: number; agreement: number }>> = {
  fp16: { meanKl: 1e-5, logitRegret: 0.03, agreement: 0.95 },
  int8: { meanKl: 5e-3, logitRegret: 0.25, agreement: 0.85 },
  int4: { meanKl: 0.6, logitRegret: 2.5, agreement: 0.35 },
};

const SHAPES: { name: string; opts: RandomCheckpointOptions }[] = [
  { name: '2 layers d=64, 4 heads (whole blocks: quantized embedding)', opts: { nLayer: 2, nEmbd: 64, nHead: 4, nPositions: 48, seed: 21 } },
  { name: '1 layer d=45, 5 heads of 9 (padded blocks, float embedding)', opts: { nLayer: 1, nEmbd: 45, nHead: 5, nPositions: 48, seed: 22 } },
  { name: '2 layers d=36, 3 heads of 12, untied lm_head, F16 storage', opts: { nLayer: 2, nEmbd: 36, nHead: 3, nPositions: 48, seed: 23, tiedLmHead: false, dtype: 'F16' } },
];

const PRECISIONS: readonly VariantPrecision[] = ['fp16', 'int8', 'int4'];
const PROMPT = 'The jury said it did find that many of the registration laws';

function logSoftmax64(row: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i] as number);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp((row[i] as number) - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from({ length: row.length }, (_, i) => (row[i] as number) - logZ);
}

describe.each(SHAPES)('precision variants of $name', ({ opts }) => {
  let home: string;
  let store: ModelStore;
  let engine: Engine;
  let reference: ReferenceGpt2;
  const made = new Map<VariantPrecision, StoredVariant>();

  beforeAll(async () => {
    home = tempDir();
    const src = join(home, 'src');
    await makeRandomCheckpoint(src, opts);
    reference = loadReferenceGpt2(src);
    store = new ModelStore(home);
    await store.import(src, 'm');
    for (const p of PRECISIONS) made.set(p, await store.convert('m', p));
    engine = new Engine({ home });
  }, 120_000);

  afterAll(async () => {
    await engine?.dispose();
  });

  it('lists every variant with its size and measured figures', () => {
    const model = store.get('m');
    expect(model.variants.map((v) => v.precision)).toEqual(['fp16', 'int8', 'int4']);
    for (const v of model.variants) {
      expect(existsSync(v.decoderPath) && existsSync(v.fullLogitsPath)).toBe(true);
      expect(v.sizeBytes).toBeGreaterThan(0);
      expect(v.quality?.positions).toBeGreaterThan(0);
      expect(v.speed?.decodeMsPerStep).toBeGreaterThan(0);
    }
    const [fp16, int8, int4] = model.variants.map((v) => v.matrixBytes) as [number, number, number];
    expect(int8).toBeLessThan(fp16);
    expect(int4).toBeLessThan(int8);
    expect(readdirSync(join(model.dir, 'onnx')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  for (const precision of PRECISIONS) {
    it(`${precision}: KL, greedy agreement and perplexity against fp32 are within the stated bounds, and the stored KL is what an independent float64 computation gives`, async () => {
      const variant = made.get(precision) as StoredVariant;
      const quality = variant.quality;
      if (!quality) throw new Error('no quality figures');
      const bound = BOUNDS[precision];
      expect(quality.meanKl).toBeLessThanOrEqual(bound.meanKl);
      expect(quality.greedyAgreement).toBeGreaterThanOrEqual(bound.agreement);
      expect(Math.abs(Math.log(quality.perplexity / quality.fp32Perplexity))).toBeLessThanOrEqual(Math.max(bound.meanKl, 0.02) * 2);

      // The measurement itself against an independent float64 computation: KL(reference ‖ variant) over the
      // first window's opening, from the original weights' float64 forward pass and the variant's own graph.
      const model = store.get('m');
      const tokenizer = await loadTokenizer(model.dir);
      const ids = (qualityWindows((text) => tokenizer.encode(text), model.config.nPositions).windows[0] ?? []).slice(0, 16);
      const measured = await measureQuality(model.fullLogitsPath, variant.fullLogitsPath, model.config, [ids], 'test');
      const got = await engine.logits('m', tokenizer.decode(ids), true, 'cpu', precision);
      expect(got.tokenIds).toEqual(ids);
      expect(got.precision).toBe(precision);
      const ref = referenceLogits(reference, ids);
      let klSum = 0;
      for (let i = 0; i < ids.length - 1; i++) {
        const p = logSoftmax64(ref[i] as Float64Array);
        const q = logSoftmax64(got.logits?.[i] as Float32Array);
        for (let v = 0; v < p.length; v++) klSum += Math.exp(p[v] as number) * ((p[v] as number) - (q[v] as number));
      }
      expect(measured.positions).toBe(ids.length - 1);
      // fp32 against float64 differs by ~1e-6 nats, so the two means agree to that plus a 5% margin.
      expect(Math.abs(klSum / (ids.length - 1) - measured.meanKl)).toBeLessThanOrEqual(0.05 * measured.meanKl + 2e-6);
    });

    it(`${precision}: greedy decoding through the Engine picks, at every step, a token within ${BOUNDS[precision].logitRegret} logits of the float64 reference's best`, async () => {
      const result = await engine.generate({
        modelId: 'm',
        prompt: PROMPT,
        precision,
        // Plain argmax: no repetition penalty or n-gram ban, so every step is the model's own top token.
        params: GenerationParams.parse({ maxNewTokens: 12, doSample: false, repetitionPenalty: 1, noRepeatNgramSize: 0, device: 'cpu' }),
      });
      expect(result.precision).toBe(precision);
      const tokenizer = await loadTokenizer(store.get('m').dir);
      const promptIds = tokenizer.encode(PROMPT);
      const chosen = result.sequences[0]?.tokenIds ?? [];
      expect(chosen.length).toBe(12);
      const ref = referenceLogits(reference, [...promptIds, ...chosen]);
      chosen.forEach((token, step) => {
        const row = ref[promptIds.length - 1 + step] as Float64Array;
        let best = Number.NEGATIVE_INFINITY;
        for (const v of row) best = Math.max(best, v);
        expect(best - (row[token] as number)).toBeLessThanOrEqual(BOUNDS[precision].logitRegret);
      });
    });
  }
});

describe('conversion and the store', () => {
  let home: string;
  let store: ModelStore;

  beforeAll(async () => {
    home = tempDir();
    await makeRandomCheckpoint(join(home, 'src'), { nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 64, seed: 30 });
    store = new ModelStore(home);
    await store.import(join(home, 'src'), 'm');
  }, 60_000);

  it('a conversion cancelled half-way leaves no variant and no temporary folder behind', async () => {
    const controller = new AbortController();
    const phases: string[] = [];
    const conversion = store.convert('m', 'int4', {
      signal: controller.signal,
      onProgress: (p) => {
        phases.push(p.phase);
        if (p.fraction > 0.1) controller.abort();
      },
    });
    await expect(conversion).rejects.toMatchObject({ kind: 'cancelled' });
    expect(phases.length).toBeGreaterThan(0);
    expect(store.get('m').variants).toEqual([]);
    expect(readdirSync(join(store.get('m').dir, 'onnx')).filter((n) => n.startsWith('.') || n === 'int4')).toEqual([]);
  });

  it('converting again replaces the variant in place, and removing it leaves the fp32 model intact', async () => {
    const first = await store.convert('m', 'int8', { measure: false });
    expect(first.quality).toBeNull();
    const progress: number[] = [];
    const second = await store.convert('m', 'int8', { onProgress: (p) => progress.push(p.fraction) });
    expect(second.quality?.positions).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((f, i) => i === 0 || f >= (progress[i - 1] as number))).toBe(true);
    expect(store.get('m').variants.map((v) => v.precision)).toEqual(['int8']);
    const before = store.get('m').sizeBytes;
    store.removeVariant('m', 'int8');
    const after = store.get('m');
    expect(after.variants).toEqual([]);
    expect(existsSync(second.dir)).toBe(false);
    // The model shrinks by the variant's files and its metadata entry (well under 4 KiB).
    expect(before - second.sizeBytes - after.sizeBytes).toBeGreaterThanOrEqual(0);
    expect(before - second.sizeBytes - after.sizeBytes).toBeLessThan(4096);
    expect(() => store.removeVariant('m', 'int8')).toThrow(EngineError);
  });

  it('a variant larger than the free disk space is refused with both figures, before anything is written', async () => {
    const onnx = join(store.get('m').dir, 'onnx');
    const before = readdirSync(onnx);
    const tight = new ModelStore(home, { freeDiskBytes: async () => 1024 });
    await expect(tight.convert('m', 'int4', { measure: false })).rejects.toThrow(/not enough disk space for the int4 variant of m: it needs [\d.]+ [KMG]iB in .*, and 1\.0 KiB is free/);
    expect(readdirSync(onnx)).toEqual(before);
    expect(tight.get('m').variants.some((v) => v.precision === 'int4')).toBe(false);
  });

  it('asking the Engine for a precision the model lacks names the convert command', async () => {
    const engine = new Engine({ home });
    try {
      await expect(engine.logits('m', 'Hello', false, 'cpu', 'int4')).rejects.toThrow(/inkwell models convert m --precision int4/);
    } finally {
      await engine.dispose();
    }
  });
});
