/**
 * The inspect pass against the float64 reference forward pass (test/helpers/reference-gpt2.ts) on
 * several shapes: attention of every layer and head, the next-token log-probabilities with their top
 * 10, and the logit lens of every layer; rows sum to 1 and nothing is above the diagonal.
 *
 * Tolerances, all stated against float64:
 * - attention: float16 storage rounds to nearest, at most 2^-11 of the value (normal range) or 2^-25
 *   absolute (subnormals); float32 compute adds ~1e-7. Allowed: 2^-11·|p| + 1e-6.
 * - a row's sum: the same rounding summed, at most 2^-11 of the row's mass: allowed 1e-3.
 * - log-probabilities: 2 × the decoder's logit tolerance (1e-5 × max(1, max|logit|)), since
 *   log-softmax subtracts a log-sum-exp computed with the same float32 error.
 * - top-k: ids may differ only where the reference's own log-probabilities are tied within that tolerance.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationParams } from '../../../../src/shared/api';
import { Engine, EngineError, decodeHalfBits } from '../../../../src/main/engine';
import { makeRandomCheckpoint, type RandomCheckpointOptions } from '../../../helpers/checkpoint-factory';
import {
  loadReferenceGpt2, referenceForward, referenceLogSoftmax, referenceReadout, type ReferenceForward, type ReferenceGpt2,
} from '../../../helpers/reference-gpt2';

const ATTENTION_RELATIVE = 2 ** -11;
const ATTENTION_ABSOLUTE = 1e-6;
const ROW_SUM = 1e-3;

let home: string;
let engine: Engine;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-inspect-'));
  engine = new Engine({ home });
});

afterAll(async () => {
  await engine.dispose();
  rmSync(home, { recursive: true, force: true });
});

const SHAPES: { id: string; opts: RandomCheckpointOptions }[] = [
  { id: 'odd-heads', opts: { nLayer: 2, nEmbd: 24, nHead: 3, nPositions: 24, seed: 11 } },
  { id: 'head-size-9', opts: { nLayer: 2, nEmbd: 36, nHead: 4, nPositions: 24, seed: 12 } },
  { id: 'f16-five-heads', opts: { nLayer: 1, nEmbd: 40, nHead: 5, nPositions: 24, dtype: 'F16', seed: 13 } },
  { id: 'bf16-untied-head-size-4', opts: { nLayer: 3, nEmbd: 44, nHead: 11, nPositions: 24, dtype: 'BF16', tiedLmHead: false, prefixed: true, seed: 14 } },
];

/** A sentence of real GPT-2 ids, cut or repeated to `length`. */
function idsOfLength(length: number): number[] {
  const sentence = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198, 1870, 351, 257, 4171, 286, 8887, 11];
  return Array.from({ length }, (_, i) => sentence[i % sentence.length] as number);
}

function logitScale(rows: readonly Float64Array[]): number {
  let scale = 0;
  for (const row of rows) for (const v of row) scale = Math.max(scale, Math.abs(v));
  return scale;
}

function logprobTolerance(scale: number): number {
  return 2e-5 * Math.max(1, scale);
}

/** Checks a top-k list against the reference log-probabilities of that position. */
function expectTopK(ids: ArrayLike<number>, logprobs: ArrayLike<number>, reference: Float64Array, tol: number): void {
  const k = ids.length;
  const sorted = Float64Array.from(reference).sort().reverse();
  for (let r = 0; r < k; r++) {
    expect(Math.abs((logprobs[r] as number) - (reference[ids[r] as number] as number))).toBeLessThanOrEqual(tol);
    if (r > 0) expect(logprobs[r] as number).toBeLessThanOrEqual((logprobs[r - 1] as number) + 1e-7);
    // The r-th entry is the r-th largest, up to ties within the tolerance.
    expect(Math.abs((reference[ids[r] as number] as number) - (sorted[r] as number))).toBeLessThanOrEqual(2 * tol);
  }
  expect(new Set(Array.from(ids)).size).toBe(k);
}

function referenceEntropy(logprobs: Float64Array): number {
  let h = 0;
  for (const lp of logprobs) h -= Math.exp(lp) * lp;
  return h;
}

describe.each(SHAPES)('inspect pass on $id', ({ id, opts }) => {
  let ref: ReferenceGpt2;
  const ids = idsOfLength(opts.nPositions ?? 24);
  let forward: ReferenceForward;

  beforeAll(async () => {
    const src = join(home, `src-${id}`);
    await makeRandomCheckpoint(src, opts);
    await engine.models.import(src, id);
    ref = loadReferenceGpt2(src);
    forward = referenceForward(ref, ids);
  });

  it('attention of every layer and head equals the reference; rows sum to 1 and nothing is above the diagonal', async () => {
    const request = { modelId: id, tokenIds: ids, device: 'cpu' as const };
    const summary = await engine.inspector.inspect(request);
    expect(summary).toMatchObject({ layers: opts.nLayer, heads: opts.nHead, tokenIds: ids, device: 'cpu' });
    const S = ids.length;
    const triangle = (S * (S + 1)) / 2;
    for (let l = 0; l < opts.nLayer; l++) {
      const payload = await engine.inspector.attention(request, l);
      expect(payload).toMatchObject({ layer: l, heads: opts.nHead, seqLen: S, encoding: 'f16-tril' });
      expect(payload.data.length).toBe(opts.nHead * triangle);
      expect(summary.sizes.attentionLayerBytes).toBe(payload.data.byteLength);
      const values = decodeHalfBits(payload.data);
      let worst = 0;
      for (let h = 0; h < opts.nHead; h++) {
        for (let i = 0; i < S; i++) {
          const expected = forward.attentions[l]![h]![i]!;
          let sum = 0;
          for (let j = 0; j <= i; j++) {
            const got = values[h * triangle + (i * (i + 1)) / 2 + j] as number;
            const want = expected[j] as number;
            expect(Math.abs(got - want)).toBeLessThanOrEqual(ATTENTION_RELATIVE * want + ATTENTION_ABSOLUTE);
            worst = Math.max(worst, Math.abs(got - want));
            sum += got;
          }
          // The full softmax row sums to 1, so a kept triangle row summing to 1 leaves nothing above the diagonal.
          expect(Math.abs(sum - 1)).toBeLessThanOrEqual(ROW_SUM);
        }
      }
      // Attention that is not close to uniform, so the comparison can tell heads and positions apart.
      expect(Math.max(...forward.attentions[l]!.flatMap((head) => head.flatMap((row) => [...row])))).toBeGreaterThan(0.3);
      expect(worst).toBeGreaterThan(0);
    }
    const rows = await engine.inspector.attentionRows(request, 0);
    expect(rows).toHaveLength(opts.nHead);
    expect(rows[0]!.map((r) => r.length)).toEqual(ids.map((_, i) => i + 1));
  });

  it('log-probability of each next token and the top 10 equal the reference', async () => {
    const summary = await engine.inspector.inspect({ modelId: id, tokenIds: ids, device: 'cpu' });
    const logprobs = forward.logits.map(referenceLogSoftmax);
    const tol = logprobTolerance(logitScale(forward.logits));
    expect(summary.positions).toHaveLength(ids.length - 1);
    summary.positions.forEach((position, k) => {
      const expected = logprobs[k]!;
      expect(Math.abs(position.logprob - (expected[ids[k + 1]!] as number))).toBeLessThanOrEqual(tol);
      expect(Math.abs(position.entropy - referenceEntropy(expected))).toBeLessThanOrEqual(tol);
      expect(position.top).toHaveLength(10);
      expectTopK(position.top.map((t) => t.id), position.top.map((t) => t.logprob), expected, tol);
    });
    const last = logprobs[ids.length - 1]!;
    expectTopK(summary.next.top.map((t) => t.id), summary.next.top.map((t) => t.logprob), last, tol);
    expect(summary.next.top[0]?.token).toBe((await engine.inspector.tokenTexts(id, [summary.next.top[0]!.id]))[0]);
  });

  it('the logit lens of every layer equals the reference read-out of that layer\'s residual stream', async () => {
    const request = { modelId: id, tokenIds: ids, device: 'cpu' as const };
    for (let l = 0; l < opts.nLayer; l++) {
      const lens = await engine.inspector.lens(request, l, 5);
      expect(lens).toMatchObject({ layer: l, k: 5, seqLen: ids.length });
      const logits = forward.hidden[l + 1]!.map((h) => referenceReadout(ref, h));
      const tol = logprobTolerance(logitScale(logits));
      logits.forEach((row, p) => {
        const expected = referenceLogSoftmax(row);
        expectTopK(lens.topIds.subarray(p * 5, p * 5 + 5), lens.topLogprobs.subarray(p * 5, p * 5 + 5), expected, tol);
        expect(Math.abs((lens.entropy[p] as number) - referenceEntropy(expected))).toBeLessThanOrEqual(tol);
        if (p < ids.length - 1) expect(Math.abs((lens.nextLogprobs[p] as number) - (expected[ids[p + 1]!] as number))).toBeLessThanOrEqual(tol);
      });
      expect(lens.nextLogprobs).toHaveLength(ids.length - 1);
    }
  });
});

describe('inspector requests', () => {
  const opts: RandomCheckpointOptions = { nLayer: 2, nEmbd: 16, nHead: 2, nPositions: 16, seed: 21 };
  let ref: ReferenceGpt2;

  beforeAll(async () => {
    const src = join(home, 'src-requests');
    await makeRandomCheckpoint(src, opts);
    await engine.models.import(src, 'small');
    ref = loadReferenceGpt2(src);
  });

  it('a text is tokenized with the model\'s tokenizer, and the same text is served from the held pass', async () => {
    const first = await engine.inspector.inspect({ modelId: 'small', text: 'The quick brown fox', device: 'cpu' });
    expect(first.tokenIds).toEqual([464, 2068, 7586, 21831]);
    expect(first.tokens.map((t) => t.label)).toEqual(['The', '·quick', '·brown', '·fox']);
    expect(first.reused).toBe(false);
    const again = await engine.inspector.inspect({ modelId: 'small', text: 'The quick brown fox', device: 'cpu' });
    expect(again.reused).toBe(true);
    expect(again.positions).toEqual(first.positions);
  });

  it('two requests for the same text at once run one pass', async () => {
    const req = { modelId: 'small', tokenIds: [464, 2068, 7586, 13], device: 'cpu' as const };
    const [a, b] = await Promise.all([engine.inspector.inspect(req), engine.inspector.inspect(req)]);
    expect([a.reused, b.reused].sort()).toEqual([false, true]);
    expect(a.positions).toEqual(b.positions);
  });

  it('a one-token text has no positions, only the prediction after it', async () => {
    const summary = await engine.inspector.inspect({ modelId: 'small', tokenIds: [464], device: 'cpu' });
    expect(summary.positions).toEqual([]);
    const expected = referenceLogSoftmax(referenceForward(ref, [464]).logits[0]!);
    expect(Math.abs(summary.next.top[0]!.logprob - Math.max(...expected))).toBeLessThan(1e-4);
    const lens = await engine.inspector.lens({ modelId: 'small', tokenIds: [464], device: 'cpu' }, 1, 3);
    expect(lens.nextLogprobs).toHaveLength(0);
  });

  it('a text of exactly the full window is inspected; one token more is refused with the window named', async () => {
    const full = idsOfLength(16);
    const summary = await engine.inspector.inspect({ modelId: 'small', tokenIds: full, device: 'cpu' });
    expect(summary.positions).toHaveLength(15);
    const tooLong = engine.inspector.inspect({ modelId: 'small', tokenIds: idsOfLength(17), device: 'cpu' });
    await expect(tooLong).rejects.toThrow(EngineError);
    await expect(tooLong).rejects.toThrow("token list is 17 tokens; the model's context window is 16");
  });

  it('bad requests name the problem', async () => {
    const req = { modelId: 'small', tokenIds: [464, 2068], device: 'cpu' as const };
    await expect(engine.inspector.inspect({ modelId: 'small', text: '' })).rejects.toThrow('text is empty');
    await expect(engine.inspector.inspect({ modelId: 'small', text: 'a', tokenIds: [1] })).rejects.toThrow('either a text or token ids');
    await expect(engine.inspector.inspect({ modelId: 'small', tokenIds: [50257] })).rejects.toThrow('token id 50257 is outside the vocabulary');
    await expect(engine.inspector.attention(req, 2)).rejects.toThrow('layer 2 does not exist: the model has layers 0..1');
    await expect(engine.inspector.lens(req, 0, 0)).rejects.toThrow('top-k 0 must be an integer from 1 to 100');
    await expect(engine.inspector.inspect({ modelId: 'nope', text: 'a' })).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('a pass larger than the memory limit is refused before it runs, with the sizes named', async () => {
    const limited = new Engine({ home, maxInspectBytes: 2048, openInspectSession: () => Promise.reject(new Error('must not open')) });
    try {
      const refused = limited.inspector.inspect({ modelId: 'small', tokenIds: idsOfLength(16) });
      await expect(refused).rejects.toMatchObject({ kind: 'refused' });
      await expect(refused).rejects.toThrow('inspecting 16 tokens with small would hold 3.1 KiB (attention of 2 layers × 2 heads); the limit is 2.0 KiB: inspect a shorter text');
    } finally {
      await limited.dispose();
    }
  });

  it('the overview pools every layer and head into blocks whose rows keep the attention mass', async () => {
    const ids = idsOfLength(16);
    const req = { modelId: 'small', tokenIds: ids, device: 'cpu' as const };
    const overview = await engine.inspector.overview(req, 5);
    expect(overview).toMatchObject({ layers: 2, heads: 2, seqLen: 16, size: 5, blockStarts: [0, 3, 6, 9, 12] });
    expect(overview.data.length).toBe(2 * 2 * 5 * 5);
    const forward = referenceForward(ref, ids);
    const ends = [3, 6, 9, 12, 16];
    for (let l = 0; l < 2; l++) {
      for (let h = 0; h < 2; h++) {
        for (let I = 0; I < 5; I++) {
          let rowSum = 0;
          for (let J = 0; J < 5; J++) {
            let mass = 0;
            for (let i = overview.blockStarts[I]!; i < ends[I]!; i++) {
              for (let j = overview.blockStarts[J]!; j < ends[J]!; j++) mass += forward.attentions[l]![h]![i]![j]!;
            }
            const want = (255 * mass) / (ends[I]! - overview.blockStarts[I]!);
            const got = overview.data[((l * 2 + h) * 5 + I) * 5 + J]!;
            expect(Math.abs(got - want)).toBeLessThanOrEqual(0.5 + 0.1);
            rowSum += got;
          }
          expect(Math.abs(rowSum - 255)).toBeLessThanOrEqual(3);
        }
      }
    }
    const wide = await engine.inspector.overview(req, 64);
    expect(wide.size).toBe(16);
  });

  it('a device that is not there falls back to the CPU with the reason', async () => {
    const summary = await engine.inspector.inspect({ modelId: 'small', tokenIds: [464, 2068], device: 'cuda' });
    expect(summary.device).toBe('cpu');
    expect(summary.deviceFallbackReason).toMatch(/^cuda is not available, using cpu: /);
  });

  it('generating never opens the inspect graphs', async () => {
    const opened: string[] = [];
    const spied = new Engine({ home, openInspectSession: async (paths) => { opened.push(paths.forwardPath); throw new Error('not in this test'); } });
    try {
      const result = await spied.generate({ modelId: 'small', prompt: 'The quick', params: GenerationParams.parse({ device: 'cpu', maxNewTokens: 3, seed: 1 }) });
      expect(result.sequences[0]?.tokenIds).toHaveLength(3);
      expect(opened).toEqual([]);
      await expect(spied.inspector.inspect({ modelId: 'small', text: 'The quick' })).rejects.toThrow('not in this test');
      expect(opened).toHaveLength(1);
    } finally {
      await spied.dispose();
    }
  });

  it('an inspect pass leaves generation\'s graphs untouched and builds its own once', async () => {
    const model = engine.models.get('small');
    const { readdirSync } = await import('node:fs');
    const files = readdirSync(join(model.dir, 'onnx')).sort();
    expect(files).toEqual(expect.arrayContaining(['model.onnx', 'model_all_logits.onnx', 'model_inspect.v1.onnx', 'model_readout.v1.onnx']));
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('idle inspect sessions', () => {
  it('an unused session is released, the held pass stays, and the next lens layer reopens it', async () => {
    const src = join(home, 'src-idle');
    await makeRandomCheckpoint(src, { nLayer: 2, nEmbd: 16, nHead: 2, nPositions: 16, seed: 61 });
    const idle = new Engine({ home, inspectIdleReleaseMs: 150 });
    try {
      await idle.models.import(src, 'idle');
      const req = { modelId: 'idle', tokenIds: [464, 2068, 7586], device: 'cpu' as const };
      const first = await idle.inspector.inspect(req);
      expect(idle.inspector.hasSession('idle')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(idle.inspector.hasSession('idle')).toBe(false);
      expect((await idle.inspector.inspect(req)).reused).toBe(true);
      const lens = await idle.inspector.lens(req, 1, 3);
      expect(idle.inspector.hasSession('idle')).toBe(true);
      // The last block's lens is the next-token view the pass computed before the release.
      expect(Array.from(lens.topIds.subarray(0, 3))).toEqual(first.positions[0]!.top.slice(0, 3).map((t) => t.id));
    } finally {
      await idle.dispose();
    }
  });
});
