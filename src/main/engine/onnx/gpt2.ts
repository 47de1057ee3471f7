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

/**
 * Which positions get logits. 'last': [B, 1, V], the last position only; 'all': [B, S, V];
 * 'rows': Inkwell's batched decoder (see buildGpt2Graph), logits [B, n, V] of the last n positions.
 */
export type LogitsMode = 'last' | 'all' | 'rows';

/** Options of one GPT-2 graph. */
export interface Gpt2GraphOptions {
  readonly logits: LogitsMode;
  /** Default 'contrib'; ignored by 'rows', which has its own (rowsAttention). */
  readonly attention?: AttentionImpl;
  /** How weights are read (precision variants); default float32 in place from `weights`. */
  readonly emitter?: WeightEmitter;
}

/** Output of a 'rows' graph: log Σ exp(logits) per position [B, n]. */
export const LOGSUMEXP_OUTPUT = 'logits_logsumexp';

/** Graph output name of layer `layer`'s new keys and values in a 'rows' graph: [B, S, 2·H·D'], keys first. */
export function newKvName(layer: number): string {
  return `new_kv.${layer}`;
}

/** Head size of the KV cache of a 'rows' graph: a multiple of 8 (GroupQueryAttention, in graphs made by earlier versions, needed one), heads zero-padded up to it. */
export function paddedHeadSize(config: Pick<Gpt2Config, 'nEmbd' | 'nHead'>): number {
  return Math.ceil(config.nEmbd / config.nHead / 8) * 8;
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

/**
 * Builds a GPT-2 decoder graph over float32 external weights (or the weights of `options.emitter`).
 *
 * 'last' and 'all' keep the Optimum export's I/O (input_ids, attention_mask, position_ids,
 * past_key_values.N.* → logits, present.N.*), so transformers.js runs the same file.
 *
 * 'rows' is Inkwell's own batched decoder, for rows of different lengths in one batch. Each row's
 * cache starts at position 0 and holds seqlens_k[b] + 1 − S valid positions (the rest of the
 * buffer, up to its capacity, is masked out), and attention (rowsAttention) reads that cache in
 * place, so nothing cache-sized is copied or allocated per step. Inputs: input_ids and
 * position_ids [B, S], seqlens_k int32 [B] (each row's total length − 1), total_sequence_length
 * int32 scalar (the largest total length; see rowCounts), logits_count int64 [1] (how many
 * trailing positions get logits), past_key_values.N.* [B, H, capacity, D']. Outputs: logits
 * [B, logits_count, V] and their log-sum-exp logits_logsumexp [B, logits_count], and the keys and
 * values of the new positions as new_kv.N [B, S, 2·H·D'], keys first, which the caller writes into
 * its cache. D' is the head size rounded up to a multiple of 8 (zero-padded, which changes no dot
 * product): the cache layout of graphs made by earlier versions, which still run with these feeds.
 */
export function buildGpt2Graph(config: Gpt2Config, weights: Float32Weights, tiedLmHead: boolean, options: Gpt2GraphOptions): GraphBuilder {
  const { nLayer, nEmbd: d, nHead, vocabSize, layerNormEpsilon } = config;
  if (d % nHead !== 0) throw new Error(`n_embd ${d} is not divisible by n_head ${nHead}`);
  const headDim = d / nHead;
  const rows = options.logits === 'rows';
  const cacheHeadDim = rows ? paddedHeadSize(config) : headDim;
  const attention = options.attention ?? 'contrib';
  const g = new GraphBuilder({ last: 'gpt2_decoder', all: 'gpt2_decoder_all_logits', rows: 'gpt2_decoder_rows' }[options.logits]);

  const emit = options.emitter ?? float32Emitter(weights, tiedLmHead, vocabSize, d);
  const weight = (name: string, shape: readonly number[]): Value => emit.float(g, name, shape);
  /** x · W of the weight matrix `name` ([k, n]); the precision decides what op that is. */
  const linear = (x: Value, name: string, k: number, n: number): Value => emit.linear(g, x, name, k, n);

  const inputIds = g.input('input_ids', 'int64', [DIMS.batch, DIMS.sequence]);
  const attentionMask = rows ? null : g.input('attention_mask', 'int64', [DIMS.batch, DIMS.total]);
  const positionIds = g.input('position_ids', 'int64', [DIMS.batch, DIMS.sequence]);
  const rowCounts = rows
    ? {
        seqlensK: g.input('seqlens_k', 'int32', [DIMS.batch]),
        // Read by nothing since attention reads the cache in place; kept so that graphs made by
        // earlier versions (GroupQueryAttention, which needs it) run with the same feeds.
        totalLength: g.input('total_sequence_length', 'int32', []),
        logitsCount: g.input('logits_count', 'int64', [1]),
      }
    : null;
  const past: { key: Value; value: Value }[] = [];
  for (let l = 0; l < nLayer; l++) {
    past.push({
      key: g.input(pastName(l, 'key'), 'float32', [DIMS.batch, nHead, DIMS.past, cacheHeadDim]),
      value: g.input(pastName(l, 'value'), 'float32', [DIMS.batch, nHead, DIMS.past, cacheHeadDim]),
    });
  }
  const rowInputs = rowCounts ? { ...rowCounts, rows: rowsMask(g, inputIds, rowCounts.seqlensK, (past[0] as { key: Value }).key) } : null;

  const wpe = weight('wpe.weight', [config.nPositions, d]);
  const lnW = (prefix: string): [Value, Value] => [weight(`${prefix}.weight`, [d]), weight(`${prefix}.bias`, [d])];

  const attnBias = attentionMask ? buildAttentionBias(g, inputIds, attentionMask) : null;
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
    let present: { key: Value; value: Value } | null = null;
    if (rowInputs) {
      const out = rowsAttention(g, g.op('Add', [qkv, w.attnB]), rowInputs.rows, layerPast, nHead, headDim, cacheHeadDim);
      attn = out.attn;
      g.output(out.newKv, newKvName(l), 'float32', [DIMS.batch, DIMS.sequence, 2 * nHead * cacheHeadDim]);
    } else if (attention === 'contrib') {
      // The c_attn bias goes into MHA's `bias` input (added per Q/K/V inside the kernel): one dispatch fewer.
      const [q, k, v] = g.op('Split', [qkv, g.constInt64([d, d, d])], { axis: 2 }, { outputs: 3 }) as [Value, Value, Value];
      const [out, presentKey, presentValue] = g.op(
        'MultiHeadAttention',
        [q, k, v, w.attnB, null, attnBias as Value, layerPast.key, layerPast.value],
        { num_heads: nHead },
        { domain: 'com.microsoft', outputs: 3, name: `${p}attn` },
      ) as [Value, Value, Value];
      attn = out;
      present = { key: presentKey, value: presentValue };
    } else {
      ({ attn, present } = standardAttention(g, g.op('Add', [qkv, w.attnB]), attnBias as Value, layerPast, nHead, headDim));
    }
    if (present) presents.push(present);

    if (options.logits === 'last' && l === nLayer - 1) {
      // After the last attention everything is per position, so only the last one is computed:
      // the last block's projections and MLP, ln_f and lm_head run on one row per sequence.
      // The last position is a real token in every row because batches are left-padded.
      const lastIndex = g.constInt64([-1]);
      attn = g.op('Gather', [attn, lastIndex], { axis: 1 });
      residual = g.op('Gather', [residual, lastIndex], { axis: 1 });
      hiddenIsLastOnly = true;
    } else if (rowInputs && l === nLayer - 1) {
      // The same, for the last logits_count positions (1 when decoding, more when verifying drafted tokens).
      const starts = g.op('Neg', [rowInputs.logitsCount]);
      const ends = g.constInt64([Number.MAX_SAFE_INTEGER]);
      const axis = g.constInt64([1]);
      attn = g.op('Slice', [attn, starts, ends, axis]);
      residual = g.op('Slice', [residual, starts, ends, axis]);
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

  g.output(logits, 'logits', 'float32', [DIMS.batch, hiddenIsLastOnly ? 1 : rowInputs ? 'logits_count' : DIMS.sequence, vocabSize]);
  if (rowInputs) {
    // The log-softmax normaliser of every row, for token log-probabilities: one vectorised pass
    // here costs far less than 50 257 Math.exp calls per row in JavaScript.
    const logSumExp = g.op('ReduceLogSumExp', [logits], { axes: [2], keepdims: 0 });
    g.output(logSumExp, LOGSUMEXP_OUTPUT, 'float32', [DIMS.batch, 'logits_count']);
  }
  presents.forEach((pr, l) => {
    g.output(pr.key, presentName(l, 'key'), 'float32', [DIMS.batch, nHead, DIMS.total, cacheHeadDim]);
    g.output(pr.value, presentName(l, 'value'), 'float32', [DIMS.batch, nHead, DIMS.total, cacheHeadDim]);
  });
  return g;
}

/**
 * The additive mask every layer of a 'rows' graph shares, [B, 1, S, S + capacity]: 0 where a new
 * position may attend, −∞ elsewhere. The first S columns are the new positions themselves
 * (causal: j ≤ i); the other `capacity` are the cache (position j of row b is one of its tokens
 * when j < its past length, seqlens_k[b] + 1 − S). New positions come first so that every column
 * a row attends to has the same index whatever the capacity: softmax sums them in vector lanes by
 * index, and masked columns add exact zeros, so a row's numbers do not depend on the capacity.
 */
function rowsMask(g: GraphBuilder, inputIds: Value, seqlensK: Value, pastKey: Value): { mask: Value; sequence: Value } {
  const dim = (x: Value, axis: number): Value => g.op('Shape', [x], { start: axis, end: axis + 1 });
  const scalar = (x: Value): Value => g.op('Squeeze', [x, g.constInt64([0])]);
  const batch = dim(inputIds, 0);
  const sequence = dim(inputIds, 1);
  const capacity = dim(pastKey, 2);
  const zero = g.constInt64([0], []);
  const one = g.constInt64([1], []);
  const open = g.constFloat([0], []);
  const blocked = g.constFloat([-Infinity], []);
  const pastLength = g.op('Sub', [g.op('Add', [g.op('Cast', [seqlensK], { to: 7 }), g.constInt64([1])]), sequence]);
  const cachePositions = g.op('Range', [zero, scalar(capacity), one]);
  const cacheOpen = g.op('Less', [g.op('Unsqueeze', [cachePositions, g.constInt64([0])]), g.op('Unsqueeze', [pastLength, g.constInt64([1])])]);
  const cacheMask = g.op('Unsqueeze', [g.op('Where', [cacheOpen, open, blocked]), g.constInt64([1, 2])]);
  const newPositions = g.op('Range', [zero, scalar(sequence), one]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [newPositions, g.constInt64([0])]), g.op('Unsqueeze', [newPositions, g.constInt64([1])])]);
  const causalMask = g.op('Unsqueeze', [g.op('Where', [causal, open, blocked]), g.constInt64([0, 1])]);
  const shape = (last: Value): Value => g.op('Concat', [batch, g.constInt64([1]), sequence, last], { axis: 0 });
  const mask = g.op('Concat', [g.op('Expand', [causalMask, shape(sequence)]), g.op('Expand', [cacheMask, shape(capacity)])], { axis: 3 });
  return { mask, sequence };
}

/**
 * Attention of a 'rows' graph over a packed, biased QKV [B, S, 3d], reading the cache in place:
 * scores against the cache (masked to each row's own positions) and against the new positions
 * (causal) share one softmax, and the context is P_cache · V_cache + P_new · V_new. Nothing
 * cache-sized is allocated or copied per step (GroupQueryAttention, used before, cleared and
 * copied a capacity-sized present buffer every step, and onnxruntime's arena kept those buffers).
 * Heads whose size is not a multiple of 8 are zero-padded to `cacheHeadDim` (the cache layout
 * graphs made by earlier versions used; zeros change no dot product) and cut again at the end.
 */
function rowsAttention(
  g: GraphBuilder,
  qkv: Value,
  rows: { mask: Value; sequence: Value },
  past: { key: Value; value: Value },
  nHead: number,
  headDim: number,
  cacheHeadDim: number,
): { attn: Value; newKv: Value } {
  const d = nHead * headDim;
  const padded = cacheHeadDim !== headDim;
  let packed = qkv;
  if (padded) {
    const heads = g.op('Reshape', [qkv, g.constInt64([0, 0, 3 * nHead, headDim])]);
    const pads = g.constInt64([0, 0, 0, 0, 0, 0, 0, cacheHeadDim - headDim]);
    packed = g.op('Reshape', [g.op('Pad', [heads, pads]), g.constInt64([0, 0, 3 * nHead * cacheHeadDim])]);
  }
  const width = nHead * cacheHeadDim;
  const newKv = g.op('Slice', [packed, g.constInt64([width]), g.constInt64([3 * width]), g.constInt64([2])]);
  const [q, k, v] = g.op('Split', [packed, g.constInt64([width, width, width])], { axis: 2 }, { outputs: 3 }) as [Value, Value, Value];
  const headShape = g.constInt64([0, 0, nHead, cacheHeadDim]);
  const toHeads = (x: Value): Value => g.op('Transpose', [g.op('Reshape', [x, headShape])], { perm: [0, 2, 1, 3] });
  // The scale goes on q, not into FusedMatMul's alpha: with alpha 1 and one query row, MLAS takes
  // its matrix-vector kernel, which reads the keys in place instead of packing a copy of them.
  const qh = toHeads(g.op('Mul', [q, g.constFloat([1 / Math.sqrt(headDim)], [])]));
  const [kh, vh] = [toHeads(k), toHeads(v)];
  const scores = (keys: Value): Value => g.op('FusedMatMul', [qh, keys], { transA: 0, transB: 1, alpha: float(1) }, { domain: 'com.microsoft' });
  const allScores = g.op('Concat', [scores(kh), scores(past.key)], { axis: 3 });
  const probs = g.op('Softmax', [g.op('Add', [allScores, rows.mask])], { axis: -1 });
  const axis3 = g.constInt64([3]);
  const newProbs = g.op('Slice', [probs, g.constInt64([0]), rows.sequence, axis3]);
  const cacheProbs = g.op('Slice', [probs, rows.sequence, g.constInt64([Number.MAX_SAFE_INTEGER]), axis3]);
  const context = g.op('Add', [g.op('MatMul', [cacheProbs, past.value]), g.op('MatMul', [newProbs, vh])]);
  let heads = g.op('Transpose', [context], { perm: [0, 2, 1, 3] });
  if (padded) heads = g.op('Slice', [heads, g.constInt64([0]), g.constInt64([headDim]), axis3]);
  return { attn: g.op('Reshape', [heads, g.constInt64([0, 0, d])]), newKv };
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
