import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGpt2Onnx, ensureRowsGraph, isEarlierRowsGraph } from '../../../../src/main/engine/onnx';
import { buildGpt2Graph } from '../../../../src/main/engine/onnx/gpt2';
import { WIDENED_WEIGHTS_FILE } from '../../../../src/main/engine/onnx/weights';
import { EngineError, type Gpt2Checkpoint } from '../../../../src/main/engine/types';
import type { RandomCheckpointOptions } from '../../../helpers/checkpoint-factory';
import { loadReferenceGpt2, referenceLogits } from '../../../helpers/reference-gpt2';
import { exportRandomModel, logitTolerance, makeTempRoot, maxAbsDiff, removeTempRoot, type ExportedModel } from './export-fixture';

const PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];

let root: string;
const sessions: InferenceSession[] = [];

beforeAll(() => {
  root = makeTempRoot('gpt2-graph');
});

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
  removeTempRoot(root);
});

async function open(path: string): Promise<InferenceSession> {
  const s = await InferenceSession.create(path, { graphOptimizationLevel: 'all' });
  sessions.push(s);
  return s;
}

/** Runs one graph on a single unpadded sequence with an empty past. */
async function runFull(session: InferenceSession, model: ExportedModel, ids: readonly number[]): Promise<Record<string, Tensor>> {
  const { nLayer, nHead, nEmbd } = model.ckpt.config;
  const S = ids.length;
  const feeds: Record<string, Tensor> = {
    input_ids: new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, S]),
    attention_mask: new Tensor('int64', BigInt64Array.from(ids, () => 1n), [1, S]),
    position_ids: new Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(i)), [1, S]),
  };
  for (let l = 0; l < nLayer; l++) {
    for (const kind of ['key', 'value']) feeds[`past_key_values.${l}.${kind}`] = new Tensor('float32', new Float32Array(0), [1, nHead, 0, nEmbd / nHead]);
  }
  return (await session.run(feeds)) as Record<string, Tensor>;
}

const SHAPES: { name: string; opts: RandomCheckpointOptions; attention?: 'standard' }[] = [
  { name: '1 layer d=16 h=2', opts: { nLayer: 1, nEmbd: 16, nHead: 2 } },
  { name: '2 layers d=24 h=3 (odd heads)', opts: { nLayer: 2, nEmbd: 24, nHead: 3, seed: 1 } },
  { name: '2 layers d=40 h=5', opts: { nLayer: 2, nEmbd: 40, nHead: 5, seed: 2 } },
  { name: '2 layers d=36 h=4 (head size 9)', opts: { nLayer: 2, nEmbd: 36, nHead: 4, seed: 3 } },
  { name: 'prefixed keys', opts: { nLayer: 1, nEmbd: 16, nHead: 2, prefixed: true, seed: 4 } },
  { name: 'untied lm_head', opts: { nLayer: 2, nEmbd: 24, nHead: 3, tiedLmHead: false, seed: 5 } },
  { name: 'F16 weights', opts: { nLayer: 2, nEmbd: 24, nHead: 3, dtype: 'F16', seed: 6 } },
  { name: 'BF16 weights', opts: { nLayer: 1, nEmbd: 16, nHead: 2, dtype: 'BF16', prefixed: true, seed: 7 } },
  { name: 'standard-op attention fallback, head size 9', opts: { nLayer: 2, nEmbd: 36, nHead: 4, seed: 8 }, attention: 'standard' },
];

describe('buildGpt2Onnx matches the float64 reference', () => {
  it.each(SHAPES)('$name', async ({ name, opts, attention }) => {
    const model = await exportRandomModel(root, name.replace(/\W+/g, '-'), opts, attention ? { attention } : {});
    const reference = referenceLogits(loadReferenceGpt2(model.dir), PROMPT);
    const V = model.ckpt.config.vocabSize;

    const all = await runFull(await open(model.fullLogitsPath), model, PROMPT);
    expect(all.logits?.dims).toEqual([1, PROMPT.length, V]);
    const allDiff = maxAbsDiff(all.logits?.data as Float32Array, Float64Array.from(reference.flatMap((row) => [...row])));
    expect(allDiff.diff).toBeLessThanOrEqual(logitTolerance(allDiff.scale));
    // A model whose logits are nearly constant would make the comparison vacuous.
    expect(allDiff.scale).toBeGreaterThan(1);

    const last = await runFull(await open(model.decoderPath), model, PROMPT);
    expect(last.logits?.dims).toEqual([1, 1, V]);
    const lastDiff = maxAbsDiff(last.logits?.data as Float32Array, reference[PROMPT.length - 1] as Float64Array);
    expect(lastDiff.diff).toBeLessThanOrEqual(logitTolerance(lastDiff.scale));

    const { nHead, nEmbd, nLayer } = model.ckpt.config;
    for (let l = 0; l < nLayer; l++) {
      expect(last[`present.${l}.key`]?.dims).toEqual([1, nHead, PROMPT.length, nEmbd / nHead]);
      expect(last[`present.${l}.value`]?.dims).toEqual([1, nHead, PROMPT.length, nEmbd / nHead]);
    }
    console.info(`[gpt2 graph] ${name}: max|diff| all=${allDiff.diff.toExponential(2)} last=${lastDiff.diff.toExponential(2)} max|logit|=${allDiff.scale.toFixed(2)}`);
  });
});

describe('graph structure and weight placement', () => {
  let f32: ExportedModel;
  let f16: ExportedModel;

  beforeAll(async () => {
    f32 = await exportRandomModel(root, 'layout-f32', { nLayer: 2, nEmbd: 16, nHead: 2 });
    f16 = await exportRandomModel(root, 'layout-f16', { nLayer: 1, nEmbd: 16, nHead: 2, dtype: 'F16' });
  });

  it('uses the fused contrib ops once per layer and never the erf Gelu', () => {
    const weights = new Map([...f32.ckpt.tensors.values()].map((t) => [t.name, { location: 'x', offset: 0, length: t.byteLength }]));
    const ops = buildGpt2Graph(f32.ckpt.config, weights, true, { logits: 'last' }).opSequence();
    const count = (op: string): number => ops.filter((o) => o === op).length;
    expect(count('com.microsoft:MultiHeadAttention')).toBe(2);
    expect(count('com.microsoft:FastGelu')).toBe(2);
    // ln_1 of layer 0 (embeddings), ln_2 per layer, ln_1 of the next layer / ln_f after each MLP.
    expect(count('com.microsoft:SkipLayerNormalization')).toBe(1 + 2 * 2);
    expect(ops).not.toContain('Gelu');
    expect(ops).not.toContain('com.microsoft:Gelu');
    expect(ops).not.toContain('LayerNormalization');
    expect(ops.at(-2)).toBe('Gemm');
    const standard = buildGpt2Graph(f32.ckpt.config, weights, true, { logits: 'all', attention: 'standard' }).opSequence();
    expect(standard).not.toContain('com.microsoft:MultiHeadAttention');
    expect(standard.filter((o) => o === 'Softmax')).toHaveLength(2);
  });

  it('the rows graph reads the cache in place: no GroupQueryAttention, and no present outputs', () => {
    const graph = buildGpt2Graph(f32.ckpt.config, new Map([...f32.ckpt.tensors.values()].map((t) => [t.name, { location: 'x', offset: 0, length: t.byteLength }])), true, { logits: 'rows' });
    const ops = graph.opSequence();
    expect(ops).not.toContain('com.microsoft:GroupQueryAttention');
    expect(ops).not.toContain('com.microsoft:MultiHeadAttention');
    // Per layer: scores against the cache and against the new positions.
    expect(ops.filter((o) => o === 'com.microsoft:FusedMatMul')).toHaveLength(2 * 2);
    expect(readFileSync(f32.rowsPath).includes(Buffer.from('present.'))).toBe(false);
    expect(isEarlierRowsGraph(f32.rowsPath)).toBe(false);
  });

  it('a rows graph made by an earlier version (GroupQueryAttention) is made again from the weights already there', async () => {
    const dir = join(root, 'layout-f32-earlier');
    const model = await exportRandomModel(root, 'layout-f32-earlier', { nLayer: 1, nEmbd: 16, nHead: 2, seed: 3 });
    const current = readFileSync(model.rowsPath);
    writeFileSync(model.rowsPath, Buffer.concat([Buffer.from('GroupQueryAttention'), current]));
    expect(isEarlierRowsGraph(model.rowsPath)).toBe(true);
    expect(await ensureRowsGraph(dir, model.onnxDir)).toBe(model.rowsPath);
    expect(readFileSync(model.rowsPath).equals(current)).toBe(true);
    await open(model.rowsPath);
  });

  it('references F32 weights inside model.safetensors (hard link, no copy) and writes no side file', () => {
    expect(existsSync(join(f32.onnxDir, WIDENED_WEIGHTS_FILE))).toBe(false);
    const linked = statSync(join(f32.onnxDir, 'model.safetensors'));
    const original = statSync(join(f32.dir, 'model.safetensors'));
    expect(linked.ino).toBe(original.ino);
    const graph = readFileSync(f32.decoderPath);
    expect(graph.includes(Buffer.from('model.safetensors'))).toBe(true);
    // Weights are external: the graph file is far smaller than wte alone (50257 × 16 floats).
    expect(graph.byteLength).toBeLessThan(50257 * 16 * 4 / 10);
  });

  it('rebuilding into the same folder reuses the link and leaves only its own files', async () => {
    await buildGpt2Onnx(f32.ckpt, f32.onnxDir);
    expect(readdirSync(f32.onnxDir).sort()).toEqual(['model.onnx', 'model.safetensors', 'model_all_logits.onnx', 'model_rows.onnx']);
    expect(statSync(join(f32.onnxDir, 'model.safetensors')).ino).toBe(statSync(join(f32.dir, 'model.safetensors')).ino);
  });

  it('removes what it wrote when a weight cannot be read midway', async () => {
    const tensors = new Map(f16.ckpt.tensors);
    const last = [...tensors.values()].at(-1);
    if (!last) throw new Error('fixture has no tensors');
    tensors.set(last.name, { ...last, file: join(root, 'no-such.safetensors') });
    const out = join(root, 'half-written');
    await expect(buildGpt2Onnx({ ...f16.ckpt, tensors }, out)).rejects.toSatisfy((e) => e instanceof EngineError && e.message.includes(out));
    expect(readdirSync(out)).toEqual([]);
  });

  it('widens F16 weights into a 64-byte-aligned float32 side file', () => {
    const side = statSync(join(f16.onnxDir, WIDENED_WEIGHTS_FILE));
    let floats = 0;
    for (const t of f16.ckpt.tensors.values()) floats += t.byteLength / 2;
    expect(side.size).toBeGreaterThanOrEqual(floats * 4);
    expect(side.size).toBeLessThan(floats * 4 + 64 * f16.ckpt.tensors.size);
    expect(existsSync(join(f16.onnxDir, 'model.safetensors'))).toBe(false);
  });

  it('refuses a checkpoint whose tensor shapes disagree with its config, leaving nothing behind', async () => {
    const tensors = new Map(f32.ckpt.tensors);
    const wpe = tensors.get('wpe.weight');
    if (!wpe) throw new Error('fixture has no wpe');
    tensors.set('wpe.weight', { ...wpe, shape: [wpe.shape[0] ?? 0, 15] });
    const broken: Gpt2Checkpoint = { ...f32.ckpt, tensors };
    const out = join(root, 'broken-out');
    await expect(buildGpt2Onnx(broken, out)).rejects.toSatisfy((e) => e instanceof EngineError && e.kind === 'bad_input' && /wpe\.weight.*shape/.test(e.message));
    expect(existsSync(join(out, 'model.onnx'))).toBe(false);
  });

  it('refuses a checkpoint with a missing tensor by name', async () => {
    const tensors = new Map(f32.ckpt.tensors);
    tensors.delete('h.1.mlp.c_fc.bias');
    await expect(buildGpt2Onnx({ ...f32.ckpt, tensors }, join(root, 'missing-out'))).rejects.toThrow(/h\.1\.mlp\.c_fc\.bias is missing/);
  });
});
