import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDecoder, probeDevices, type DecoderSession, type KvCache } from '../../../../src/main/engine/runtime';
import { EngineError } from '../../../../src/main/engine/types';
import { loadReferenceGpt2, referenceLogits } from '../../../helpers/reference-gpt2';
import { exportRandomModel, logitTolerance, makeTempRoot, maxAbsDiff, removeTempRoot, type ExportedModel } from '../onnx/export-fixture';

const PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 383, 2068];
const PAD = 50256;

let root: string;
let model: ExportedModel;
let decoder: DecoderSession;
const caches: KvCache[] = [];
const sessions: DecoderSession[] = [];

/** Keeps a cache for disposal in afterAll and returns it. */
function track(cache: KvCache): KvCache {
  caches.push(cache);
  return cache;
}

beforeAll(async () => {
  root = makeTempRoot('runtime');
  model = await exportRandomModel(root, 'm', { nLayer: 2, nEmbd: 24, nHead: 3, seed: 11 });
  decoder = await openDecoder(model, model.ckpt.config, 'cpu');
  sessions.push(decoder);
});

afterAll(async () => {
  for (const c of caches) c.dispose();
  await Promise.all(sessions.map((s) => s.release()));
  removeTempRoot(root);
});

const V = 50257;
const row = (logits: Float32Array, r: number): Float32Array => logits.subarray(r * V, (r + 1) * V);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  const { diff, scale } = maxAbsDiff(actual, expected);
  expect(diff).toBeLessThanOrEqual(logitTolerance(scale));
  return diff;
}

/** Prefills `ids` as one unpadded row. */
async function prefill(ids: readonly number[]): Promise<{ logits: Float32Array; present: KvCache }> {
  const out = await decoder.step({ batch: 1, inputIds: ids, seqLen: ids.length, attentionMask: ids.map(() => 1), positionIds: ids.map((_, i) => i), past: null });
  track(out.present);
  return out;
}

describe('DecoderSession on cpu', () => {
  it('reports the device it runs on', () => {
    expect(decoder.device).toEqual({ requested: 'cpu', used: 'cpu' });
    expect(decoder.config.nLayer).toBe(2);
  });

  it('logitsAll matches the float64 reference at every position', async () => {
    const all = await decoder.logitsAll(PROMPT);
    expect(all.length).toBe(PROMPT.length * V);
    const reference = referenceLogits(loadReferenceGpt2(model.dir), PROMPT);
    const diff = expectClose(all, Float64Array.from(reference.flatMap((r) => [...r])));
    console.info(`[runtime] logitsAll max|diff| vs reference = ${diff.toExponential(2)}`);
  });

  it('KV-cache stepping (prefill 5, then one token at a time) equals the full-sequence logits at every step', async () => {
    const full = await decoder.logitsAll(PROMPT);
    let out = await prefill(PROMPT.slice(0, 5));
    expect(out.present.length).toBe(5);
    expectClose(out.logits, row(full, 4));
    let worst = 0;
    for (let t = 5; t < PROMPT.length; t++) {
      out = await decoder.step({ batch: 1, inputIds: [PROMPT[t] as number], seqLen: 1, attentionMask: new Array(t + 1).fill(1), positionIds: [t], past: out.present });
      track(out.present);
      expect(out.present.length).toBe(t + 1);
      worst = Math.max(worst, expectClose(out.logits, row(full, t)));
    }
    console.info(`[runtime] cached vs full max|diff| = ${worst.toExponential(2)}`);
  });

  it('a left-padded batch of 2 gives the same logits as the unpadded rows, at prefill and at the next step', async () => {
    const long = PROMPT.slice(0, 7);
    const short = PROMPT.slice(3, 7).reverse();
    const pad = long.length - short.length;
    const batch = await decoder.step({
      batch: 2,
      inputIds: [...long, ...new Array(pad).fill(PAD), ...short],
      seqLen: long.length,
      attentionMask: [...long.map(() => 1), ...new Array(pad).fill(0), ...short.map(() => 1)],
      // transformers.js: cumsum(mask) - 1, pads filled with 1.
      positionIds: [...long.map((_, i) => i), ...new Array(pad).fill(1), ...short.map((_, i) => i)],
      past: null,
    });
    track(batch.present);
    expect(batch.logits.every((x) => Number.isFinite(x))).toBe(true);
    const a = await prefill(long);
    const b = await prefill(short);
    expectClose(row(batch.logits, 0), a.logits);
    expectClose(row(batch.logits, 1), b.logits);

    const next = [2068, 13];
    const stepped = await decoder.step({
      batch: 2,
      inputIds: next,
      seqLen: 1,
      attentionMask: [...long.map(() => 1), 1, ...new Array(pad).fill(0), ...short.map(() => 1), 1],
      positionIds: [long.length, short.length],
      past: batch.present,
    });
    track(stepped.present);
    const a2 = await decoder.step({ batch: 1, inputIds: [next[0] as number], seqLen: 1, attentionMask: new Array(long.length + 1).fill(1), positionIds: [long.length], past: a.present });
    const b2 = await decoder.step({ batch: 1, inputIds: [next[1] as number], seqLen: 1, attentionMask: new Array(short.length + 1).fill(1), positionIds: [short.length], past: b.present });
    track(a2.present);
    track(b2.present);
    expectClose(row(stepped.logits, 0), a2.logits);
    expectClose(row(stepped.logits, 1), b2.logits);
  });

  it('KvCache.select tiles a batch-1 prefill to K rows and reorders rows, matching separate runs', async () => {
    const prompt = PROMPT.slice(0, 6);
    const base = await prefill(prompt);
    const tiled = track(base.present.select([0, 0, 0]));
    expect(tiled.batch).toBe(3);
    expect(tiled.length).toBe(prompt.length);
    const next = [262, 13, 50256];
    const mask = [...new Array(3 * (prompt.length + 1)).fill(1)];
    const stepped = await decoder.step({ batch: 3, inputIds: next, seqLen: 1, attentionMask: mask, positionIds: [6, 6, 6], past: tiled });
    track(stepped.present);
    const singles: { logits: Float32Array; present: KvCache }[] = [];
    for (const [i, id] of next.entries()) {
      const single = await decoder.step({ batch: 1, inputIds: [id], seqLen: 1, attentionMask: new Array(prompt.length + 1).fill(1), positionIds: [6], past: (await prefill(prompt)).present });
      track(single.present);
      singles.push(single);
      expectClose(row(stepped.logits, i), single.logits);
    }
    // Reorder: rows [2, 0] of the 3-row cache, then one more token each.
    const reordered = track(stepped.present.select([2, 0]));
    const after = await decoder.step({ batch: 2, inputIds: [11, 11], seqLen: 1, attentionMask: new Array(2 * (prompt.length + 2)).fill(1), positionIds: [7, 7], past: reordered });
    track(after.present);
    for (const [i, source] of [2, 0].entries()) {
      const single = await decoder.step({ batch: 1, inputIds: [11], seqLen: 1, attentionMask: new Array(prompt.length + 2).fill(1), positionIds: [7], past: singles[source]!.present });
      track(single.present);
      expectClose(row(after.logits, i), single.logits);
    }
    expect(() => base.present.select([1])).toThrow(/outside 0\.\.0/);
  });

  it('rejects malformed steps with clear errors', async () => {
    await expect(decoder.step({ batch: 1, inputIds: [1, 2], seqLen: 2, attentionMask: [1], positionIds: [0, 1], past: null })).rejects.toThrow(/attentionMask holds 1 values/);
    await expect(decoder.step({ batch: 1, inputIds: [60000], seqLen: 1, attentionMask: [1], positionIds: [0], past: null })).rejects.toThrow(/outside the vocabulary/);
    await expect(decoder.step({ batch: 1, inputIds: [1], seqLen: 1, attentionMask: [1], positionIds: [64], past: null })).rejects.toSatisfy((e) => e instanceof EngineError && e.kind === 'bad_input');
    await expect(decoder.logitsAll(new Array(65).fill(1))).rejects.toThrow(/exceed the context window of 64/);
  });
});

describe('devices', () => {
  it('probeDevices reports cpu available and a reason for every unavailable device', async () => {
    const status = await probeDevices();
    expect(status.map((s) => s.name)).toEqual(['cpu', 'webgpu', 'cuda']);
    expect(status.find((s) => s.name === 'cpu')).toEqual({ name: 'cpu', available: true });
    for (const s of status.filter((x) => !x.available)) expect(s.reason).toMatch(/\S/);
  });

  it('a requested device that cannot run falls back to cpu with the reason (cuda here), and auto picks an available one', async () => {
    const status = await probeDevices();
    const cuda = status.find((s) => s.name === 'cuda');
    const onCuda = await openDecoder(model, model.ckpt.config, 'cuda');
    sessions.push(onCuda);
    if (cuda?.available) {
      expect(onCuda.device.used).toBe('cuda');
    } else {
      expect(onCuda.device.requested).toBe('cuda');
      expect(onCuda.device.used).toBe('cpu');
      expect(onCuda.device.fallbackReason).toMatch(/cuda/i);
      const out = await onCuda.step({ batch: 1, inputIds: [464], seqLen: 1, attentionMask: [1], positionIds: [0], past: null });
      track(out.present);
      expect(out.logits.length).toBe(V);
    }
    const auto = await openDecoder(model, model.ckpt.config, 'auto');
    sessions.push(auto);
    expect(auto.device.requested).toBe('auto');
    expect(status.find((s) => s.name === auto.device.used)?.available).toBe(true);
  });

  it('a missing graph is a not_found error naming the file', async () => {
    await expect(openDecoder({ decoderPath: `${root}/nope/model.onnx`, fullLogitsPath: `${root}/nope/all.onnx`, rowsPath: `${root}/nope/rows.onnx` }, model.ckpt.config, 'cpu')).rejects.toSatisfy(
      (e) => e instanceof EngineError && e.kind === 'not_found' && e.message.includes('nope/rows.onnx'),
    );
  });
});
