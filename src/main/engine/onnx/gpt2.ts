/**
 * The GPT-2 decoder graph with Hugging Face Optimum I/O names, built from fused
 * onnxruntime contrib ops (com.microsoft) verified on ORT 1.30 CPU.
 */
import type { Gpt2Config } from '../types';
import { float, GraphBuilder, type Value } from './builder';
import { float32Emitter, LM_HEAD_WEIGHT, type WeightEmitter } from './weight-emitter';
import type { Float32Weights } from './weights';

/** Symbolic dimension names used by Optimum's GPT-2 export (transformers.js reads these). */
export const DIMS = {
  batch: 'batch_size',
  sequence: 'sequence_length',
  past: 'past_sequence_length',
  total: 'past_sequence_length + sequence_length',
} as const;

/**
 * How attention is computed. 'contrib' (default) = com.microsoft MultiHeadAttention: one fused
 * kernel that also writes present K/V. On ORT 1.30 CPU it matched a float64 reference for 1–5
 * heads and head sizes 8, 9 and 16 (odd head counts, head size not a multiple of 8, empty past,
 * fully masked rows), so no valid GPT-2 shape needs the fallback. 'standard' = plain ONNX ops
 * (Concat, MatMul, Softmax), kept as a tested fallback for execution providers without MHA.
 */
export type AttentionImpl = 'contrib' | 'standard';

/** Options of one GPT-2 graph. */
export interface Gpt2GraphOptions {
  /** 'last': logits [B, 1, V] of the last position only; 'all': logits [B, S, V]. */
  readonly logits: 'last' | 'all';
  /** Default 'contrib'. */
  readonly attention?: AttentionImpl;
  /** How weights are read (precision variants); default float32 in place from `weights`. */
  readonly emitter?: WeightEmitter;
}

/** Graph input name of layer `layer`'s past key or value. */
export function pastName(layer: number, kind: 'key' | 'value'): string {
  return `past_key_values.${layer}.${kind}`;
}

/** Graph output name of layer `layer`'s present key or value. */
export function presentName(layer: number, kind: 'key' | 'value'): string {
  return `present.${layer}.${kind}`;
}

/**
 * Additive attention mask [B, 1, S, T]: 0 where key j is visible to query i (j <= past + i and
 * attention_mask[b, j] == 1), a large finite negative elsewhere. Finite, so a row with no visible
 * key (a left-pad query) softmaxes to a uniform row instead of NaN, which would leak into the
 * next layer through that position's K/V.
 */
function buildAttentionBias(g: GraphBuilder, inputIds: Value, attentionMask: Value): Value {
  const seq = g.op('Shape', [inputIds], { start: 1, end: 2 });
  const total = g.op('Shape', [attentionMask], { start: 1, end: 2 });
  const past = g.op('Sub', [total, seq]);
  const pastScalar = g.op('Squeeze', [past]);
  const totalScalar = g.op('Squeeze', [total]);
  const queryPos = g.op('Range', [pastScalar, totalScalar, g.constInt64([1], [])]);
  const keyPos = g.op('Range', [g.constInt64([0], []), totalScalar, g.constInt64([1], [])]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [keyPos, g.constInt64([0])]), g.op('Unsqueeze', [queryPos, g.constInt64([1])])]);
  const keyPresent = g.op('Cast', [g.op('Unsqueeze', [attentionMask, g.constInt64([1, 2])])], { to: 9 /* BOOL */ });
  const visible = g.op('And', [causal, keyPresent]);
  // Half of float32's lowest: adding a finite score never overflows to -Inf.
  const masked = -3.4028234663852886e38 / 2;
  return g.op('Where', [visible, g.constFloat([0], []), g.constFloat([masked], [])], {}, { name: 'attention_bias' });
}

interface LayerWeights {
  readonly attnB: Value;
  readonly projB: Value;
  readonly ln2W: Value;
  readonly ln2B: Value;
  readonly fcB: Value;
  readonly mlpProjB: Value;
}

/** Builds the GPT-2 decoder graph over float32 external weights (or the weights of `options.emitter`). */
export function buildGpt2Graph(config: Gpt2Config, weights: Float32Weights, tiedLmHead: boolean, options: Gpt2GraphOptions): GraphBuilder {
  const { nLayer, nEmbd: d, nHead, vocabSize, layerNormEpsilon } = config;
  if (d % nHead !== 0) throw new Error(`n_embd ${d} is not divisible by n_head ${nHead}`);
  const headDim = d / nHead;
  const attention = options.attention ?? 'contrib';
  const g = new GraphBuilder(options.logits === 'last' ? 'gpt2_decoder' : 'gpt2_decoder_all_logits');

  const emit = options.emitter ?? float32Emitter(weights, tiedLmHead, vocabSize, d);
  const weight = (name: string, shape: readonly number[]): Value => emit.float(g, name, shape);
  /** x · W of the weight matrix `name` ([k, n]); the precision decides what op that is. */
  const linear = (x: Value, name: string, k: number, n: number): Value => emit.linear(g, x, name, k, n);

  const inputIds = g.input('input_ids', 'int64', [DIMS.batch, DIMS.sequence]);
  const attentionMask = g.input('attention_mask', 'int64', [DIMS.batch, DIMS.total]);
  const positionIds = g.input('position_ids', 'int64', [DIMS.batch, DIMS.sequence]);
  const past: { key: Value; value: Value }[] = [];
  for (let l = 0; l < nLayer; l++) {
    past.push({
      key: g.input(pastName(l, 'key'), 'float32', [DIMS.batch, nHead, DIMS.past, headDim]),
      value: g.input(pastName(l, 'value'), 'float32', [DIMS.batch, nHead, DIMS.past, headDim]),
    });
  }

  const wpe = weight('wpe.weight', [config.nPositions, d]);
  const lnW = (prefix: string): [Value, Value] => [weight(`${prefix}.weight`, [d]), weight(`${prefix}.bias`, [d])];

  const attnBias = buildAttentionBias(g, inputIds, attentionMask);
  const tokens = emit.embed(g, inputIds);
  const positions = g.op('Gather', [wpe, positionIds]);

  // SkipLayerNormalization fuses residual add + LayerNorm; output 3 (input_skip_bias_sum) is the
  // residual stream for the next block, so layer 0 needs no separate Add (works on CPU and WebGPU,
  // unlike EmbedLayerNormalization which is CPU-only).
  const skipLayerNorm = (input: Value, skip: Value, ln: [Value, Value], bias: Value | null, keepSum: boolean): Value[] =>
    g.op('SkipLayerNormalization', [input, skip, ln[0], ln[1], bias], { epsilon: float(layerNormEpsilon) }, {
      domain: 'com.microsoft',
      outputs: keepSum ? [true, false, false, true] : [true],
    });

  let [normed, residual] = skipLayerNorm(tokens, positions, lnW('h.0.ln_1'), null, true) as [Value, Value];
  const presents: { key: Value; value: Value }[] = [];
  let hiddenIsLastOnly = false;

  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    const w: LayerWeights = {
      attnB: weight(`${p}attn.c_attn.bias`, [3 * d]),
      projB: weight(`${p}attn.c_proj.bias`, [d]),
      ln2W: weight(`${p}ln_2.weight`, [d]),
      ln2B: weight(`${p}ln_2.bias`, [d]),
      fcB: weight(`${p}mlp.c_fc.bias`, [4 * d]),
      mlpProjB: weight(`${p}mlp.c_proj.bias`, [d]),
    };
    const layerPast = past[l] as { key: Value; value: Value };
    const qkv = linear(normed, `${p}attn.c_attn.weight`, d, 3 * d);
    let attn: Value;
    let present: { key: Value; value: Value };
    if (attention === 'contrib') {
      // The c_attn bias goes into MHA's `bias` input (added per Q/K/V inside the kernel): one dispatch fewer.
      const [q, k, v] = g.op('Split', [qkv, g.constInt64([d, d, d])], { axis: 2 }, { outputs: 3 }) as [Value, Value, Value];
      const [out, presentKey, presentValue] = g.op(
        'MultiHeadAttention',
        [q, k, v, w.attnB, null, attnBias, layerPast.key, layerPast.value],
        { num_heads: nHead },
        { domain: 'com.microsoft', outputs: 3, name: `${p}attn` },
      ) as [Value, Value, Value];
      attn = out;
      present = { key: presentKey, value: presentValue };
    } else {
      ({ attn, present } = standardAttention(g, g.op('Add', [qkv, w.attnB]), attnBias, layerPast, nHead, headDim));
    }
    presents.push(present);

    if (options.logits === 'last' && l === nLayer - 1) {
      // After the last attention everything is per position, so only the last one is computed:
      // the last block's projections and MLP, ln_f and lm_head run on one row per sequence.
      // The last position is a real token in every row because batches are left-padded.
      const lastIndex = g.constInt64([-1]);
      attn = g.op('Gather', [attn, lastIndex], { axis: 1 });
      residual = g.op('Gather', [residual, lastIndex], { axis: 1 });
      hiddenIsLastOnly = true;
    }

    const projected = linear(attn, `${p}attn.c_proj.weight`, d, d);
    const [normed2, residual2] = skipLayerNorm(projected, residual, [w.ln2W, w.ln2B], w.projB, true) as [Value, Value];
    const fc = linear(normed2, `${p}mlp.c_fc.weight`, d, 4 * d);
    // GPT-2's gelu_new is the tanh approximation, which is exactly FastGelu (Gelu/BiasGelu are the erf form).
    const act = g.op('FastGelu', [fc, w.fcB], {}, { domain: 'com.microsoft' });
    const mlpOut = linear(act, `${p}mlp.c_proj.weight`, 4 * d, d);
    const isLast = l === nLayer - 1;
    const nextLn = isLast ? lnW('ln_f') : lnW(`h.${l + 1}.ln_1`);
    const outs = skipLayerNorm(mlpOut, residual2, nextLn, w.mlpProjB, !isLast);
    normed = outs[0] as Value;
    if (!isLast) residual = outs[1] as Value;
  }

  const logits = linear(normed, LM_HEAD_WEIGHT, d, vocabSize);

  g.output(logits, 'logits', 'float32', [DIMS.batch, hiddenIsLastOnly ? 1 : DIMS.sequence, vocabSize]);
  presents.forEach((pr, l) => {
    g.output(pr.key, presentName(l, 'key'), 'float32', [DIMS.batch, nHead, DIMS.total, headDim]);
    g.output(pr.value, presentName(l, 'value'), 'float32', [DIMS.batch, nHead, DIMS.total, headDim]);
  });
  return g;
}

/** Plain-ONNX attention over a packed, biased QKV [B, S, 3d]; same contract as MultiHeadAttention. */
function standardAttention(
  g: GraphBuilder,
  qkv: Value,
  attnBias: Value,
  past: { key: Value; value: Value },
  nHead: number,
  headDim: number,
): { attn: Value; present: { key: Value; value: Value } } {
  const d = nHead * headDim;
  const [q, k, v] = g.op('Split', [qkv, g.constInt64([d, d, d])], { axis: 2 }, { outputs: 3 }) as [Value, Value, Value];
  const headShape = g.constInt64([0, 0, nHead, headDim]);
  const toHeads = (x: Value): Value => g.op('Transpose', [g.op('Reshape', [x, headShape])], { perm: [0, 2, 1, 3] });
  const presentKey = g.op('Concat', [past.key, toHeads(k)], { axis: 2 });
  const presentValue = g.op('Concat', [past.value, toHeads(v)], { axis: 2 });
  const scaledQ = g.op('Mul', [toHeads(q), g.constFloat([1 / Math.sqrt(headDim)], [])]);
  const scores = g.op('MatMul', [scaledQ, g.op('Transpose', [presentKey], { perm: [0, 1, 3, 2] })]);
  const probs = g.op('Softmax', [g.op('Add', [scores, attnBias])], { axis: -1 });
  const context = g.op('Transpose', [g.op('MatMul', [probs, presentValue])], { perm: [0, 2, 1, 3] });
  const attn = g.op('Reshape', [context, g.constInt64([0, 0, d])]);
  return { attn, present: { key: presentKey, value: presentValue } };
}
