/**
 * What a GPT-2 model of given dimensions weighs: parameters, the bytes of its
 * Hugging Face safetensors file, and the bytes of its weights in each precision
 * Inkwell runs (fp32, fp16, and weight-only int8/int4 through com.microsoft
 * MatMulNBits). Computed from the tensor shapes, never looked up, so the same
 * functions serve the catalog, fine-tunes of any size and the memory estimate.
 */
import { gpt2TensorShapes } from '../checkpoint/layout';

/** The precisions a model can run in. */
export const PRECISIONS = ['fp32', 'fp16', 'int8', 'int4'] as const;
/** A precision a model can run in. */
export type Precision = (typeof PRECISIONS)[number];

/** The hyper-parameters that size a GPT-2 model. */
export interface ModelDimensions {
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nPositions: number;
  readonly vocabSize: number;
}

/** Block size of the int8/int4 variants' MatMulNBits weights (elements along K per fp32 scale). */
export const QUANT_BLOCK_SIZE = 32;

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
 * Bytes of one [K, N] matrix as MatMulNBits stores it: N·⌈K/32⌉ blocks of 32·bits/8 packed bytes
 * (uint8 B input [N, k_blocks, blob_size]) plus one fp32 scale per block; symmetric, so no zero
 * points (onnxruntime's contrib op spec, docs/ContribOperators.md#com.microsoft.MatMulNBits).
 */
export function matMulNBitsBytes(k: number, n: number, bits: 4 | 8, blockSize = QUANT_BLOCK_SIZE): number {
  const blocks = n * Math.ceil(k / blockSize);
  return blocks * (blockSize * bits) / 8 + blocks * FP32_BYTES;
}

/** The four weight matrices of each block, [K, N] (Conv1D layout, as MatMul reads them). */
function blockMatrices(d: number): [number, number][] {
  return [[d, 3 * d], [d, d], [d, 4 * d], [4 * d, d]];
}

/**
 * Bytes of the weights in `precision`:
 * - fp32: 4 bytes per parameter.
 * - fp16: 2 bytes per parameter, LayerNorm weights and biases kept in fp32.
 * - int8/int4: the four block matrices of every layer and the lm_head projection (a [d, V]
 *   quantized copy of the tied wte) as MatMulNBits with block size 32 and fp32 scales; wte and
 *   wpe stay fp32 for the embedding Gather, biases and LayerNorms stay fp32.
 */
export function weightBytes(dims: ModelDimensions, precision: Precision): number {
  const { nLayer, nEmbd: d, vocabSize: v } = dims;
  const total = parameterCount(dims);
  const layerNorm = (2 * nLayer + 1) * 2 * d;
  if (precision === 'fp32') return total * FP32_BYTES;
  if (precision === 'fp16') return (total - layerNorm) * 2 + layerNorm * FP32_BYTES;
  const bits = precision === 'int8' ? 8 : 4;
  let quantized = 0;
  let quantizedParams = 0;
  for (const [k, n] of blockMatrices(d)) {
    quantized += nLayer * matMulNBitsBytes(k, n, bits);
    quantizedParams += nLayer * k * n;
  }
  const lmHead = matMulNBitsBytes(d, v, bits);
  return (total - quantizedParams) * FP32_BYTES + quantized + lmHead;
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
  const bits = precision === 'int8' ? 8 : 4;
  return nLayer * matrices.reduce((s, [k, n]) => s + matMulNBitsBytes(k, n, bits), 0) + matMulNBitsBytes(d, v, bits);
}

/**
 * Bytes the store holds for a model with this precision: the checkpoint (which the fp32 graph reads
 * in place), plus for fp16/int8/int4 the variant's own weight file. An upper bound: a variant that
 * references the unchanged fp32 embeddings inside the checkpoint takes that much less.
 */
export function storedBytes(dims: ModelDimensions, precision: Precision): number {
  return checkpointBytes(dims) + (precision === 'fp32' ? 0 : weightBytes(dims, precision));
}
