/**
 * What a GPT-2 model of given dimensions weighs: parameters, the bytes of its
 * Hugging Face safetensors file, and the bytes of its weights in each precision
 * Inkwell runs (fp32, fp16, and weight-only int8/int4 through com.microsoft
 * MatMulNBits). Computed from the tensor shapes, never looked up, so the same
 * functions serve the catalog, fine-tunes of any size and the memory estimate.
 */
import { gpt2TensorShapes } from '../checkpoint/layout';
import { quantizedBytes } from '../onnx/quantize';
import { VARIANT_FORMATS } from '../onnx/variant';
import type { Precision } from '../precision';

export type { Precision } from '../precision';

/** The hyper-parameters that size a GPT-2 model. */
export interface ModelDimensions {
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nPositions: number;
  readonly vocabSize: number;
}

const FP32_BYTES = 4;

/** Parameters of a GPT-2 model with a tied lm_head (as every catalog model has). */
export function parameterCount(dims: ModelDimensions): number {
  let total = 0;
  for (const shape of gpt2TensorShapes(dims).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}

/**
 * Bytes of the Hub's model.safetensors for these dimensions in F32: the weights, plus each layer's
 * `attn.bias` causal-mask buffer (float32 [1, 1, P, P]) that transformers' GPT-2 checkpoints carry,
 * plus a header of about 90 bytes per tensor. For openai-community/gpt2 this gives 548,105,288 bytes
 * against the Hub's 548,105,171; the tree listing gives exact sizes once online.
 */
export function checkpointBytes(dims: ModelDimensions): number {
  const weights = parameterCount(dims) * FP32_BYTES;
  const maskBuffers = dims.nLayer * dims.nPositions * dims.nPositions * FP32_BYTES;
  const tensors = 4 + 13 * dims.nLayer;
  return weights + maskBuffers + 8 + 90 * tensors;
}

/**
 * Bytes of one [K, N] weight matrix as the int8/int4 variants store it for MatMulNBits: the
 * format's packed blocks, one fp32 scale per block and, where the format is asymmetric, its zero
 * points (onnx/variant.ts VARIANT_FORMATS is the one definition; docs/ContribOperators.md#com.microsoft.MatMulNBits).
 */
export function matMulNBitsBytes(k: number, n: number, precision: 'int8' | 'int4'): number {
  const format = VARIANT_FORMATS[precision];
  if (!('quantization' in format)) throw new Error(`${precision} is not a block-quantized precision`);
  return quantizedBytes(n, k, format.quantization);
}

/** Whether the token embedding reads lm_head's quantized bytes (GatherBlockQuantized) instead of a float copy of wte. */
function embeddingIsQuantized(dims: ModelDimensions, precision: 'int8' | 'int4'): boolean {
  const format = VARIANT_FORMATS[precision];
  return 'quantization' in format && dims.nEmbd % format.quantization.blockSize === 0;
}

/** The four weight matrices of each block, [K, N] (Conv1D layout, as MatMul reads them). */
function blockMatrices(d: number): [number, number][] {
  return [[d, 3 * d], [d, d], [d, 4 * d], [4 * d, d]];
}

/**
 * Bytes of the weights in `precision`, as the variant writer lays them out (onnx/variant.ts):
 * - fp32: 4 bytes per parameter (the checkpoint read in place).
 * - fp16: the four block matrices of every layer and the tied wte/lm_head in fp16; wpe, biases
 *   and LayerNorms stay fp32 (the residual stream is fp32).
 * - int8/int4: the same matrices block-quantized for MatMulNBits; the embedding Gather reads
 *   lm_head's quantized bytes when n_embd is a whole number of blocks, else a fp32 wte is kept;
 *   wpe, biases and LayerNorms stay fp32.
 */
export function weightBytes(dims: ModelDimensions, precision: Precision): number {
  const { nLayer, nEmbd: d, vocabSize: v } = dims;
  const total = parameterCount(dims);
  if (precision === 'fp32') return total * FP32_BYTES;
  const blockParams = nLayer * blockMatrices(d).reduce((s, [k, n]) => s + k * n, 0);
  const floatParams = total - blockParams - v * d;
  if (precision === 'fp16') return (blockParams + v * d) * 2 + floatParams * FP32_BYTES;
  let quantized = matMulNBitsBytes(d, v, precision);
  for (const [k, n] of blockMatrices(d)) quantized += nLayer * matMulNBitsBytes(k, n, precision);
  const floatEmbedding = embeddingIsQuantized(dims, precision) ? 0 : v * d * FP32_BYTES;
  return quantized + floatEmbedding + floatParams * FP32_BYTES;
}

/**
 * Bytes read from memory per decoded token: every block matrix and the lm_head once (the embedding
 * Gather reads one row of wte and wpe, which is negligible).
 */
export function bytesReadPerToken(dims: ModelDimensions, precision: Precision): number {
  const { nLayer, nEmbd: d, vocabSize: v } = dims;
  const matrices = blockMatrices(d);
  if (precision === 'fp32' || precision === 'fp16') {
    const perElement = precision === 'fp32' ? 4 : 2;
    return (nLayer * matrices.reduce((s, [k, n]) => s + k * n, 0) + d * v) * perElement;
  }
  return nLayer * matrices.reduce((s, [k, n]) => s + matMulNBitsBytes(k, n, precision), 0) + matMulNBitsBytes(d, v, precision);
}

/**
 * Bytes the store holds for a model with this precision: the checkpoint (which the fp32 graph reads
 * in place), plus for fp16/int8/int4 the variant's own weight file. An upper bound: a variant that
 * references the unchanged fp32 embeddings inside the checkpoint takes that much less.
 */
export function storedBytes(dims: ModelDimensions, precision: Precision): number {
  return checkpointBytes(dims) + (precision === 'fp32' ? 0 : weightBytes(dims, precision));
}
