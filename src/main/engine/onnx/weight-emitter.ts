/**
 * How the GPT-2 graph reads its weights: one emitter per precision decides what a weight
 * matrix product, the token embedding and a float parameter become in the graph. The graph
 * itself (gpt2.ts) is the same for every precision; only these three calls differ.
 */
import { elemTypeCode, type GraphBuilder, type Value } from './builder';
import { OnnxDataType } from './proto';
import type { Float32Weights } from './weights';
import type { ExternalDataRef } from './proto';
import type { BlockQuantization } from './quantize';

/** The tied or untied output projection's name in `linear` calls. */
export const LM_HEAD_WEIGHT = 'lm_head';

/** What a precision turns GPT-2's weights into. */
export interface WeightEmitter {
  /** A float32 parameter used as is (layer norms, biases, wpe). */
  float(g: GraphBuilder, name: string, shape: readonly number[]): Value;
  /** Token embedding rows [B, S, d] (float32) for ids [B, S]. */
  embed(g: GraphBuilder, ids: Value): Value;
  /**
   * x [..., k] times a weight matrix → [..., n] in float32. `name` is a Conv1D weight (stored
   * [k, n]) or LM_HEAD_WEIGHT (the [vocab, d] rows of lm_head, tied to wte or not).
   */
  linear(g: GraphBuilder, x: Value, name: string, k: number, n: number): Value;
}

/** One initializer per (graph, name): an emitter serves both graphs of a model, and a weight used twice is declared once. */
function initializerCache(): (g: GraphBuilder, name: string, create: () => Value) => Value {
  const perGraph = new WeakMap<GraphBuilder, Map<string, Value>>();
  return (g, name, create) => {
    let values = perGraph.get(g);
    if (!values) perGraph.set(g, (values = new Map()));
    let value = values.get(name);
    if (!value) values.set(name, (value = create()));
    return value;
  };
}

function lookup<T>(refs: ReadonlyMap<string, T>, name: string): T {
  const ref = refs.get(name);
  if (ref === undefined) throw new Error(`weight ${name} is missing`);
  return ref;
}

/**
 * lm_head as Gemm(transB = 1) on a 2-D view, reshaped back to x's leading dims: it reads the
 * [vocab, d] rows in place, so the tied matrix is not duplicated as a transposed constant
 * (MatMul against Transpose(wte) would be constant-folded into a copy).
 */
function gemmTransposedHead(g: GraphBuilder, x: Value, head: Value, k: number, n: number): Value {
  const leading = g.op('Shape', [x], { start: 0, end: -1 });
  const target = g.op('Concat', [leading, g.constInt64([n])], { axis: 0 });
  const flat = g.op('Reshape', [x, g.constInt64([-1, k])]);
  const logits2d = g.op('Gemm', [flat, head], { transB: 1 }, { name: 'lm_head' });
  return g.op('Reshape', [logits2d, target]);
}

/** The imported graph: float32 weights in place in model.safetensors (or weights.f32.bin). */
export function float32Emitter(weights: Float32Weights, tiedLmHead: boolean, vocabSize: number, d: number): WeightEmitter {
  const cached = initializerCache();
  const initializer = (g: GraphBuilder, name: string, shape: readonly number[]): Value =>
    cached(g, name, () => g.externalInitializer(name, 'float32', shape, lookup(weights, name)));
  return {
    float: initializer,
    embed: (g, ids) => g.op('Gather', [initializer(g, 'wte.weight', [vocabSize, d]), ids]),
    linear: (g, x, name, k, n) => {
      if (name !== LM_HEAD_WEIGHT) {
        // GPT-2 Conv1D weights are stored [in, out], which is MatMul's B layout: no transpose.
        return g.op('MatMul', [x, initializer(g, name, [k, n])], {}, { name: name.replace(/\.weight$/, '') });
      }
      return gemmTransposedHead(g, x, initializer(g, tiedLmHead ? 'wte.weight' : 'lm_head.weight', [vocabSize, d]), k, n);
    },
  };
}

/** Where a quantized matrix's parts are in the variant's weights file. */
export interface QuantizedRefs {
  readonly data: ExternalDataRef;
  readonly scales: ExternalDataRef;
  readonly zeroPoints?: ExternalDataRef;
  readonly kBlocks: number;
}

/** The weights of an int8 or int4 variant, all in one file beside its graphs. */
export interface QuantizedWeights {
  readonly quantization: BlockQuantization;
  /**
   * onnxruntime's MatMulNBits accuracy_level: 4 computes with int8-quantized activations (the
   * only fast 8-bit CPU path; level 0 falls back to a kernel about 50× slower here).
   */
  readonly accuracyLevel: number;
  /** Float32 parameters (layer norms, biases, wpe; and wte when the embedding is not quantized). */
  readonly floats: ReadonlyMap<string, ExternalDataRef>;
  /** Conv1D weights by name, and LM_HEAD_WEIGHT; all in [N, K] rows. */
  readonly matrices: ReadonlyMap<string, QuantizedRefs>;
  /**
   * true: the token embedding reads the quantized lm_head bytes through GatherBlockQuantized
   * (tied wte only, and only when d is a whole number of blocks); false: a float32 Gather of wte.
   */
  readonly quantizedEmbedding: boolean;
}

/** int8 / int4 weight-only: com.microsoft MatMulNBits for every matrix, lm_head included. */
export function quantizedEmitter(weights: QuantizedWeights, vocabSize: number, d: number): WeightEmitter {
  const { quantization: q, accuracyLevel } = weights;
  const blob = (q.blockSize * q.bits) / 8;
  const cached = initializerCache();
  const float = (g: GraphBuilder, name: string, shape: readonly number[]): Value =>
    cached(g, name, () => g.externalInitializer(name, 'float32', shape, lookup(weights.floats, name)));
  const parts = (g: GraphBuilder, name: string, n: number): { data: Value; scales: Value; zeroPoints: Value | null; kBlocks: number } => {
    const refs = lookup(weights.matrices, name);
    const base = name === LM_HEAD_WEIGHT ? 'lm_head' : name.replace(/\.weight$/, '');
    return {
      data: g.externalInitializer(`${base}.q${q.bits}`, 'uint8', [n, refs.kBlocks, blob], refs.data),
      scales: g.externalInitializer(`${base}.scales`, 'float32', [n * refs.kBlocks], refs.scales),
      zeroPoints: refs.zeroPoints ? g.externalInitializer(`${base}.zero_points`, 'uint8', [refs.zeroPoints.length], refs.zeroPoints) : null,
      kBlocks: refs.kBlocks,
    };
  };
  return {
    float,
    embed: (g, ids) => {
      if (!weights.quantizedEmbedding) return g.op('Gather', [float(g, 'wte.weight', [vocabSize, d]), ids]);
      // The same bytes as lm_head's MatMulNBits B, declared again with GatherBlockQuantized's
      // shapes ([V, d·bits/8] data, [V, d/block] scales): the file holds wte once.
      const refs = lookup(weights.matrices, LM_HEAD_WEIGHT);
      const data = g.externalInitializer('wte.q', 'uint8', [vocabSize, (d * q.bits) / 8], refs.data);
      const scales = g.externalInitializer('wte.scales', 'float32', [vocabSize, refs.kBlocks], refs.scales);
      const zeroPoints = refs.zeroPoints
        ? g.externalInitializer('wte.zero_points', 'uint8', [vocabSize, refs.zeroPoints.length / vocabSize], refs.zeroPoints)
        : null;
      return g.op('GatherBlockQuantized', [data, ids, scales, zeroPoints], {
        bits: q.bits, block_size: q.blockSize, gather_axis: 0, quantize_axis: 1,
      }, { domain: 'com.microsoft', name: 'wte' });
    },
    linear: (g, x, name, k, n) => {
      const p = parts(g, name, n);
      return g.op('MatMulNBits', [x, p.data, p.scales, p.zeroPoints], {
        K: k, N: n, bits: q.bits, block_size: q.blockSize, accuracy_level: accuracyLevel,
      }, { domain: 'com.microsoft', name: name === LM_HEAD_WEIGHT ? 'lm_head' : name.replace(/\.weight$/, '') });
    },
  };
}

/** The weights of an fp16 variant, all in one file beside its graphs. */
export interface HalfWeights {
  /** Float32 parameters (layer norms, biases, wpe). */
  readonly floats: ReadonlyMap<string, ExternalDataRef>;
  /** float16 matrices: Conv1D weights [k, n] and wte.weight [vocab, d] by name; LM_HEAD_WEIGHT only when untied. */
  readonly halves: ReadonlyMap<string, ExternalDataRef>;
}

const FLOAT = OnnxDataType.FLOAT;
const FLOAT16 = elemTypeCode('float16');

/**
 * fp16 for GPUs: float16 weights and matmuls, with a Cast to float16 before and back to float32
 * after each one, so the residual stream, the layer norms (SkipLayerNormalization), attention
 * (MultiHeadAttention and the KV cache) and FastGelu stay float32. GPT-2's residual stream
 * grows past float16's 65 504 in real checkpoints (onnxruntime's GPT-2 mixed-precision recipe
 * keeps exactly these ops in fp32 for that reason; microsoft/onnxruntime#6328, #26732).
 * The embedding reads the float16 wte rows and widens them.
 */
export function halfEmitter(weights: HalfWeights, vocabSize: number, d: number): WeightEmitter {
  const cached = initializerCache();
  const half = (g: GraphBuilder, name: string, shape: readonly number[]): Value =>
    cached(g, `${name}.fp16`, () => g.externalInitializer(`${name}.fp16`, 'float16', shape, lookup(weights.halves, name)));
  return {
    float: (g, name, shape) => cached(g, name, () => g.externalInitializer(name, 'float32', shape, lookup(weights.floats, name))),
    embed: (g, ids) => g.op('Cast', [g.op('Gather', [half(g, 'wte.weight', [vocabSize, d]), ids])], { to: FLOAT }),
    linear: (g, x, name, k, n) => {
      const x16 = g.op('Cast', [x], { to: FLOAT16 });
      const head = weights.halves.has(LM_HEAD_WEIGHT) ? LM_HEAD_WEIGHT : 'wte.weight';
      const y16 = name === LM_HEAD_WEIGHT
        ? gemmTransposedHead(g, x16, half(g, head, [vocabSize, d]), k, n)
        : g.op('MatMul', [x16, half(g, name, [k, n])], {}, { name: name.replace(/\.weight$/, '') });
      return g.op('Cast', [y16], { to: FLOAT });
    },
  };
}
