/**
 * The two graphs of the inspect pass, separate from the decoder so that generation never pays for
 * them: the forward graph (one unpadded sequence, no KV cache) writes every layer's attention
 * probabilities and residual stream; the readout graph turns residual-stream rows into the final
 * LayerNorm + lm_head distribution, compactly (top-k, the log-probability of a chosen token, the
 * entropy), so neither the next-token view nor the logit lens ever moves vocabulary-sized rows.
 *
 * Attention is plain ONNX (MatMul, Softmax) rather than MultiHeadAttention: its Softmax output is
 * the probability matrix itself, on every execution provider.
 */
import type { Gpt2Checkpoint, Gpt2Config, WeightDtype } from '../types';
import { float, GraphBuilder, type ElemType, type Value } from './builder';
import type { ExternalDataRef } from './proto';
import { bringIntoFolder, portableRelative } from './weights';

/** Version of the inspect graph files; bumped when their inputs, outputs or encodings change, so old files are rebuilt. */
export const INSPECT_GRAPH_VERSION = 1;

/** Output names of the forward graph. */
export const INSPECT_OUTPUTS = {
  /** Layer `l`'s attention probabilities, float16 [heads, S(S+1)/2]: each head's causal lower triangle, row by row. */
  attention: (layer: number) => `attentions.${layer}`,
  /** The residual stream after block `l`, float32 [S, d] (the last one is what ln_f reads). */
  hidden: (layer: number) => `hidden.${layer}`,
} as const;

/** One weight in the checkpoint's own dtype, as external data relative to the graph folder. */
export interface NativeWeight {
  readonly ref: ExternalDataRef;
  readonly dtype: WeightDtype;
}

/** Canonical weight name → its bytes in place. */
export type NativeWeights = ReadonlyMap<string, NativeWeight>;

const ELEM: Record<WeightDtype, ElemType> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const FLOAT = 1;
const FLOAT16 = 10;

/**
 * References every tensor of `ckpt` where it lies, in its stored dtype (the weight files are hard-linked
 * into `outDir`, as for the decoder). F16/BF16 weights are widened by a Cast that onnxruntime folds at
 * session load, so no widened copy is written to disk. Created links are appended to `written`.
 */
export function placeNativeWeights(ckpt: Gpt2Checkpoint, outDir: string, written: string[]): NativeWeights {
  const reachable = new Map<string, string>();
  const out = new Map<string, NativeWeight>();
  for (const t of ckpt.tensors.values()) {
    let local = reachable.get(t.file);
    if (local === undefined) {
      local = bringIntoFolder(t.file, outDir, written);
      reachable.set(t.file, local);
    }
    out.set(t.name, { dtype: t.dtype, ref: { location: portableRelative(outDir, local), offset: t.offset, length: t.byteLength } });
  }
  return out;
}

/** A float32 view of weight `name`. */
function weightReader(g: GraphBuilder, weights: NativeWeights): (name: string, shape: readonly number[]) => Value {
  return (name, shape) => {
    const w = weights.get(name);
    if (w === undefined) throw new Error(`weight ${name} is missing`);
    const value = g.externalInitializer(name, ELEM[w.dtype], shape, w.ref);
    return w.dtype === 'F32' ? value : g.op('Cast', [value], { to: FLOAT });
  };
}

function layerNorm(g: GraphBuilder, x: Value, weight: Value, bias: Value, epsilon: number): Value {
  return g.op('LayerNormalization', [x, weight, bias], { axis: -1, epsilon: float(epsilon) });
}

/**
 * The forward graph: input_ids int64 [1, S] (positions 0 … S-1) → for every block l,
 * attentions.l float16 [n_head, S(S+1)/2] and hidden.l float32 [S, d].
 */
export function buildInspectForwardGraph(config: Gpt2Config, weights: NativeWeights): GraphBuilder {
  const { nLayer, nEmbd: d, nHead, vocabSize, layerNormEpsilon } = config;
  if (d % nHead !== 0) throw new Error(`n_embd ${d} is not divisible by n_head ${nHead}`);
  const headDim = d / nHead;
  const g = new GraphBuilder('gpt2_inspect');
  const weight = weightReader(g, weights);

  const inputIds = g.input('input_ids', 'int64', [1, 'sequence_length']);
  const ids = g.op('Squeeze', [inputIds, g.constInt64([0])]);
  const seqLen = g.op('Squeeze', [g.op('Shape', [ids])]);
  const positions = g.op('Range', [g.constInt64([0], []), seqLen, g.constInt64([1], [])]);
  const tokens = g.op('Gather', [weight('wte.weight', [vocabSize, d]), ids]);
  let residual = g.op('Add', [tokens, g.op('Gather', [weight('wpe.weight', [config.nPositions, d]), positions])]);

  // causal[i][j] = key j is at or before query i. The same mask selects the lower triangle for output.
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [positions, g.constInt64([0])]), g.op('Unsqueeze', [positions, g.constInt64([1])])]);
  // Half of float32's lowest, as in the decoder: finite, and exp() of it is exactly 0.
  const bias = g.op('Where', [causal, g.constFloat([0], []), g.constFloat([-3.4028234663852886e38 / 2], [])]);
  const lowerTriangle = g.op('Reshape', [causal, g.constInt64([-1])]);
  const toHeads = (x: Value): Value => g.op('Transpose', [g.op('Reshape', [x, g.constInt64([0, nHead, headDim])])], { perm: [1, 0, 2] });
  const scale = g.constFloat([1 / Math.sqrt(headDim)], []);

  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    const normed = layerNorm(g, residual, weight(`${p}ln_1.weight`, [d]), weight(`${p}ln_1.bias`, [d]), layerNormEpsilon);
    const qkv = g.op('Add', [g.op('MatMul', [normed, weight(`${p}attn.c_attn.weight`, [d, 3 * d])]), weight(`${p}attn.c_attn.bias`, [3 * d])]);
    const [q, k, v] = g.op('Split', [qkv, g.constInt64([d, d, d])], { axis: 1 }, { outputs: 3 }) as [Value, Value, Value];
    const scores = g.op('MatMul', [g.op('Mul', [toHeads(q), scale]), g.op('Transpose', [toHeads(k)], { perm: [0, 2, 1] })]);
    const probs = g.op('Softmax', [g.op('Add', [scores, bias])], { axis: -1 }, { name: `${p}attn.probs` });
    const context = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, toHeads(v)])], { perm: [1, 0, 2] }), g.constInt64([0, d])]);
    const attnOut = g.op('Add', [g.op('MatMul', [context, weight(`${p}attn.c_proj.weight`, [d, d])]), weight(`${p}attn.c_proj.bias`, [d])]);
    residual = g.op('Add', [residual, attnOut]);
    const normed2 = layerNorm(g, residual, weight(`${p}ln_2.weight`, [d]), weight(`${p}ln_2.bias`, [d]), layerNormEpsilon);
    // gelu_new is the tanh approximation, which is exactly FastGelu.
    const act = g.op('FastGelu', [g.op('MatMul', [normed2, weight(`${p}mlp.c_fc.weight`, [d, 4 * d])]), weight(`${p}mlp.c_fc.bias`, [4 * d])], {}, { domain: 'com.microsoft' });
    const mlpOut = g.op('Add', [g.op('MatMul', [act, weight(`${p}mlp.c_proj.weight`, [4 * d, d])]), weight(`${p}mlp.c_proj.bias`, [d])]);
    residual = g.op('Add', [residual, mlpOut]);

    // Packed lower triangle in float16: a quarter of the float32 square, exact zeros above the diagonal dropped.
    const packed = g.op('Compress', [g.op('Reshape', [probs, g.constInt64([nHead, -1])]), lowerTriangle], { axis: 1 });
    g.output(g.op('Cast', [packed], { to: FLOAT16 }), INSPECT_OUTPUTS.attention(l), 'float16', [nHead, 'triangle']);
    g.output(residual, INSPECT_OUTPUTS.hidden(l), 'float32', ['sequence_length', d]);
  }
  return g;
}

/**
 * The readout graph: hidden float32 [N, d], target_ids int64 [N], k int64 [1] → through ln_f and
 * lm_head: top_logprobs float32 [N, k] and top_ids int64 [N, k] (most likely first),
 * target_logprobs float32 [N] (log-probability of each row's target id) and entropy float32 [N] (nats).
 */
export function buildReadoutGraph(config: Gpt2Config, weights: NativeWeights, tiedLmHead: boolean): GraphBuilder {
  const { nEmbd: d, vocabSize, layerNormEpsilon } = config;
  const g = new GraphBuilder('gpt2_readout');
  const weight = weightReader(g, weights);
  const hidden = g.input('hidden', 'float32', ['rows', d]);
  const targets = g.input('target_ids', 'int64', ['rows']);
  const k = g.input('k', 'int64', [1]);

  const normed = layerNorm(g, hidden, weight('ln_f.weight', [d]), weight('ln_f.bias', [d]), layerNormEpsilon);
  const lmHead = weight(tiedLmHead ? 'wte.weight' : 'lm_head.weight', [vocabSize, d]);
  const logprobs = g.op('LogSoftmax', [g.op('Gemm', [normed, lmHead], { transB: 1 })], { axis: -1 });
  const [topValues, topIds] = g.op('TopK', [logprobs, k], { axis: -1, largest: 1, sorted: 1 }, { outputs: 2 }) as [Value, Value];
  const axis1 = g.constInt64([1]);
  const target = g.op('Squeeze', [g.op('GatherElements', [logprobs, g.op('Unsqueeze', [targets, axis1])], { axis: 1 }), axis1]);
  const entropy = g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [g.op('Exp', [logprobs]), logprobs]), axis1], { keepdims: 0 })]);

  g.output(topValues, 'top_logprobs', 'float32', ['rows', 'k']);
  g.output(topIds, 'top_ids', 'int64', ['rows', 'k']);
  g.output(target, 'target_logprobs', 'float32', ['rows']);
  g.output(entropy, 'entropy', 'float32', ['rows']);
  return g;
}
