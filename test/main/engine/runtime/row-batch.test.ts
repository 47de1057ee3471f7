/**
 * DecoderBatch on real (tiny, random) models through onnxruntime: the 'rows' graph against the
 * float64 reference, and rows of different lengths that join, leave and grow past the cache's
 * capacity giving bitwise the logits each row gives alone — in the worker thread and in-thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDecoder, openDecoderInThread, type DecoderBatch, type DecoderSession, type RowLogits } from '../../../../src/main/engine/runtime';
import { PREFILL_CHUNK } from '../../../../src/main/engine/runtime/row-batch';
import { EngineError } from '../../../../src/main/engine/types';
import { loadReferenceGpt2, referenceLogits, type ReferenceGpt2 } from '../../../helpers/reference-gpt2';
import { exportRandomModel, logitTolerance, makeTempRoot, maxAbsDiff, removeTempRoot, type ExportedModel } from '../onnx/export-fixture';

const V = 50257;
const PROMPTS = [
  [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290],
  [40, 1101],
  [818, 262, 3726, 373, 262, 1573, 11, 290, 262, 1573, 373, 351, 1793, 13, 198, 464, 2068],
];

let root: string;
const sessions: DecoderSession[] = [];

beforeAll(() => {
  root = makeTempRoot('row-batch');
});

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
  removeTempRoot(root);
});

function row(out: RowLogits, i: number): Float32Array {
  return out.logits.subarray(i * V, (i + 1) * V);
}

/** log Σ exp in float64. */
function logSumExp(values: ArrayLike<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i] as number);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp((values[i] as number) - max);
  return max + Math.log(sum);
}

/** Deterministic next tokens (not argmax: random-weight argmax loops on a few tokens). */
function nextToken(seed: number, step: number): number {
  return (seed * 7919 + step * 104729) % 50000;
}

/** Prefills `prompt` alone, then feeds `steps` tokens; the logits after the prompt and after each token. */
async function alone(session: DecoderSession, prompt: readonly number[], steps: number, seed: number): Promise<Float32Array[]> {
  const batch = session.createBatch();
  try {
    const { rows, out } = await batch.prefill(prompt, 1);
    const logits = [row(out, 0).slice()];
    for (let s = 0; s < steps; s++) logits.push(row(await batch.decode(rows, [nextToken(seed, s)]), 0).slice());
    return logits;
  } finally {
    batch.dispose();
  }
}

function expectBitwise(actual: Float32Array, expected: Float32Array, what: string): void {
  let differing = 0;
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) differing++;
  expect(differing, `${what}: ${differing} of ${expected.length} logits differ`).toBe(0);
}

describe.each([
  { name: 'worker thread, head size 8', opts: { nLayer: 2, nEmbd: 24, nHead: 3, seed: 21 }, threaded: true },
  { name: 'in-thread, head size 9 (the cache padded to 16)', opts: { nLayer: 2, nEmbd: 36, nHead: 4, seed: 22 }, threaded: false },
])('DecoderBatch ($name)', ({ name, opts, threaded }) => {
  let model: ExportedModel;
  let session: DecoderSession;
  let reference: ReferenceGpt2;

  beforeAll(async () => {
    model = await exportRandomModel(root, name.replace(/\W+/g, '-'), { ...opts, nPositions: 90 });
    session = threaded ? await openDecoder(model, model.ckpt.config, 'cpu') : await openDecoderInThread(model, model.ckpt.config, 'cpu');
    sessions.push(session);
    reference = loadReferenceGpt2(model.dir);
  });

  it('prefill and decode steps match the float64 reference, and logSumExp is log Σ exp of the logits', async () => {
    const prompt = PROMPTS[0] as number[];
    const tokens = [nextToken(1, 0), nextToken(1, 1), nextToken(1, 2)];
    const expected = referenceLogits(reference, [...prompt, ...tokens]);
    const batch = session.createBatch();
    try {
      const { rows, out } = await batch.prefill(prompt, 1);
      const outs = [out];
      for (const t of tokens) outs.push(await batch.decode(rows, [t]));
      outs.forEach((o, i) => {
        const want = expected[prompt.length - 1 + i] as Float64Array;
        const { diff, scale } = maxAbsDiff(row(o, 0), want);
        expect(diff).toBeLessThanOrEqual(logitTolerance(scale));
        expect(scale).toBeGreaterThan(1);
        // float32 log-sum-exp over 50 257 terms: within 1e-5 of the float64 one of the same logits.
        expect(Math.abs((o.logSumExp[0] as number) - logSumExp(row(o, 0)))).toBeLessThan(1e-5 * Math.max(1, Math.abs(logSumExp(row(o, 0)))));
      });
      expect(batch.lengthOf(rows[0] as number)).toBe(prompt.length + tokens.length);
    } finally {
      batch.dispose();
    }
  });

  it('rows of different lengths that join, leave and outgrow the capacity give bitwise their logits alone', async () => {
    // 70 steps take the longest row (17 + 70) past the first capacity (64 positions) to the window
    // (90: a capacity that is not a multiple of the vector width, so softmax's lanes see other indices).
    const steps = 70;
    const solo = await Promise.all(PROMPTS.map(async (p, i) => alone(session, p, steps, i)));
    const batch = session.createBatch();
    try {
      // Row A from the start, B joins after 5 steps, C after 20; B leaves after 30 of its steps (from the middle slot).
      const joins = [0, 5, 20];
      const leaves = [steps, 30, steps];
      const rowOf = new Map<number, number>();
      const done = new Map<number, number>();
      const check = (seq: number, logits: Float32Array): void => {
        const step = done.get(seq) ?? 0;
        expectBitwise(logits, solo[seq]?.[step] as Float32Array, `prompt ${seq} after ${step} steps`);
        done.set(seq, step + 1);
      };
      for (let t = 0; t < steps + 25; t++) {
        for (const seq of [0, 1, 2]) {
          if (joins[seq] !== t) continue;
          const { rows, out } = await batch.prefill(PROMPTS[seq] as number[], 1);
          rowOf.set(seq, rows[0] as number);
          check(seq, row(out, 0));
        }
        for (const [seq, r] of [...rowOf]) {
          if ((done.get(seq) ?? 0) > (leaves[seq] as number)) {
            batch.remove([r]);
            rowOf.delete(seq);
          }
        }
        if (rowOf.size === 0) break;
        const live = [...rowOf];
        // Rows named in an order that differs from the batch's own: logits come back in the order asked.
        live.reverse();
        const out = await batch.decode(live.map(([, r]) => r), live.map(([seq]) => nextToken(seq, (done.get(seq) as number) - 1)));
        live.forEach(([seq], i) => check(seq, row(out, i)));
      }
      expect(done.get(0)).toBe(steps + 1);
      expect(done.get(1)).toBe(31);
      expect(done.get(2)).toBe(steps + 1);
    } finally {
      batch.dispose();
    }
  });

  it('copies of one prefill decode like separate prefills, and extend() gives the step-by-step logits', async () => {
    const prompt = PROMPTS[2] as number[];
    const drafted = [nextToken(5, 0), nextToken(5, 1), nextToken(5, 2), nextToken(5, 3)];
    const stepwise = await alone(session, prompt, drafted.length, 5);
    const batch = session.createBatch();
    try {
      const { rows } = await batch.prefill(prompt, 2);
      expect(rows).toHaveLength(2);
      const [a, b] = rows as [number, number];
      const out = await batch.decode([a, b], [drafted[0] as number, nextToken(9, 0)]);
      expectBitwise(row(out, 0), stepwise[1] as Float32Array, 'copy 0 after one step');
      // Row a verifies three more drafted tokens in one pass, then rejects the last two. Several
      // query positions at once take other GEMM shapes inside the attention kernel, so the logits
      // agree to float32 rounding, not bit for bit (measured ≤ 1e-6 relative here).
      const extended = await batch.extend(a, drafted.slice(1));
      const close = (actual: Float32Array, expected: Float32Array): void => {
        const { diff, scale } = maxAbsDiff(actual, expected);
        expect(diff).toBeLessThanOrEqual(logitTolerance(scale));
      };
      for (let i = 0; i < 3; i++) close(row(extended, i), stepwise[2 + i] as Float32Array);
      expect(batch.lengthOf(a)).toBe(prompt.length + 4);
      batch.truncate(a, prompt.length + 2);
      // The cache now holds the verification pass's keys for drafted[1] (equal to rounding), and
      // nothing of the rejected tokens: a stale position would move these logits by whole units.
      const redo = await batch.extend(a, drafted.slice(2, 3));
      close(row(redo, 0), stepwise[3] as Float32Array);
    } finally {
      batch.dispose();
    }
  });

  it('gives memory back when most rows have left, keeping the others intact', async () => {
    const prompt = PROMPTS[0] as number[];
    const solo = await alone(session, prompt, 4, 3);
    const batch = session.createBatch();
    try {
      const { rows } = await batch.prefill(prompt, 8);
      for (let s = 0; s < 2; s++) await batch.decode(rows, rows.map(() => nextToken(3, s)));
      const full = batch.kvBytes;
      batch.remove(rows.slice(1, 7));
      const kept = [rows[0], rows[7]] as number[];
      for (let s = 2; s < 4; s++) {
        const out = await batch.decode(kept, kept.map(() => nextToken(3, s)));
        kept.forEach((_, i) => expectBitwise(row(out, i), solo[s + 1] as Float32Array, `row ${i} after ${s + 1} steps`));
      }
      // (Read after a step: a batch in the worker thread learns its size from the step's reply.)
      expect(batch.kvBytes).toBeLessThan(full / 2);
    } finally {
      batch.dispose();
    }
  });

  it('refuses a row beyond the context window and misuse, naming the problem', async () => {
    const batch = session.createBatch();
    try {
      await expect(batch.prefill(new Array<number>(91).fill(11), 1)).rejects.toSatisfy((e) => e instanceof EngineError && e.kind === 'bad_input' && /context window of 90/.test(e.message));
      const { rows } = await batch.prefill([11, 12], 1);
      await expect(batch.decode([], [])).rejects.toThrow(/every row of the batch/);
      expect(() => batch.truncate(rows[0] as number, 5)).toThrow(/holds 2 positions/);
      expect(() => batch.remove([12345])).toThrow(/not in this batch/);
    } finally {
      batch.dispose();
    }
    await expect((batch as DecoderBatch).decode([1], [1])).rejects.toThrow(/after dispose/);
  });
});

describe('a prompt longer than one prefill chunk', () => {
  it(`goes in in chunks of ${PREFILL_CHUNK} and gives the float64 reference's logits, then decodes on from every chunk's keys`, async () => {
    const model = await exportRandomModel(root, 'long-prompt', { nLayer: 2, nEmbd: 16, nHead: 2, seed: 31, nPositions: PREFILL_CHUNK + 64 });
    const session = await openDecoderInThread(model, model.ckpt.config, 'cpu');
    sessions.push(session);
    const reference = loadReferenceGpt2(model.dir);
    // Two runs: a full chunk, then 40 positions that attend to it through the cache.
    const prompt = Array.from({ length: PREFILL_CHUNK + 40 }, (_, i) => nextToken(7, i));
    const tokens = [nextToken(8, 0), nextToken(8, 1)];
    const expected = referenceLogits(reference, [...prompt, ...tokens]);
    const batch = session.createBatch();
    try {
      const { rows, out } = await batch.prefill(prompt, 2);
      const outs = [out];
      for (const t of tokens) outs.push(await batch.decode(rows, [t, t]));
      outs.forEach((o, i) => {
        const want = expected[prompt.length - 1 + i] as Float64Array;
        for (const r of i === 0 ? [0] : [0, 1]) {
          const { diff, scale } = maxAbsDiff(row(o, r), want);
          expect(diff, `position ${prompt.length - 1 + i}, row ${r}`).toBeLessThanOrEqual(logitTolerance(scale));
        }
      });
      expect(batch.lengthOf(rows[1] as number)).toBe(prompt.length + tokens.length);
    } finally {
      batch.dispose();
    }
  });
});
