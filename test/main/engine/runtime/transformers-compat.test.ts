import { basename, dirname } from 'node:path';
import { AutoModelForCausalLM, env, Tensor as HfTensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDecoder, type DecoderSession } from '../../../../src/main/engine/runtime';
import { exportRandomModel, logitTolerance, makeTempRoot, maxAbsDiff, removeTempRoot, type ExportedModel } from '../onnx/export-fixture';

/**
 * The Optimum I/O contract, checked by the consumer it exists for: transformers.js loads the
 * exported <id>/onnx/model.onnx beside config.json and the tokenizer files, builds its own
 * inputs (empty past_key_values, position_ids from the mask) and must get our logits.
 */
const PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262];

let root: string;
let model: ExportedModel;
let decoder: DecoderSession;
let hf: Awaited<ReturnType<typeof AutoModelForCausalLM.from_pretrained>> | undefined;

beforeAll(async () => {
  root = makeTempRoot('tjs');
  model = await exportRandomModel(root, 'tiny-gpt2', { nLayer: 2, nEmbd: 24, nHead: 3, seed: 21 });
  decoder = await openDecoder(model, model.ckpt.config, 'cpu');
  env.localModelPath = dirname(model.dir);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
});

afterAll(async () => {
  await hf?.dispose();
  await decoder?.release();
  removeTempRoot(root);
});

describe('@huggingface/transformers on the exported model.onnx', () => {
  it('loads it and a single forward gives the same last-position logits as our session', async () => {
    hf = await AutoModelForCausalLM.from_pretrained(basename(model.dir), { dtype: 'fp32', device: 'cpu' });
    const n = PROMPT.length;
    const inputIds = new HfTensor('int64', BigInt64Array.from(PROMPT, BigInt), [1, n]);
    const attentionMask = new HfTensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
    const out = (await hf({ input_ids: inputIds, attention_mask: attentionMask })) as { logits: { dims: number[]; data: Float32Array } };
    expect(out.logits.dims).toEqual([1, 1, 50257]);

    const ours = await decoder.step({ batch: 1, inputIds: PROMPT, seqLen: n, attentionMask: PROMPT.map(() => 1), positionIds: PROMPT.map((_, i) => i), past: null });
    ours.present.dispose();
    const { diff, scale } = maxAbsDiff(out.logits.data, ours.logits);
    // Same graph, same runtime, same inputs: only thread scheduling could differ.
    expect(diff).toBeLessThanOrEqual(logitTolerance(scale));
    console.info(`[transformers.js] last-position logits max|diff| vs our session = ${diff.toExponential(2)}`);
  });
});
