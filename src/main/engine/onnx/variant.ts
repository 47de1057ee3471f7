/**
 * Precision variants of a GPT-2 checkpoint: one weights file (quantized or float16 matrices
 * plus the small float32 parameters) and the same graphs as the fp32 export (model.onnx,
 * model_all_logits.onnx, model_rows.onnx), written into one folder that holds everything they read.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { numberToHalf } from '../checkpoint/dtype';
import type { VariantPrecision } from '../precision';
import { EngineError, type Gpt2Checkpoint, type TensorLocation } from '../types';
import { buildGpt2Graph } from './gpt2';
import { checkCheckpoint, DECODER_FILE, FULL_LOGITS_FILE, ROWS_FILE } from './index';
import type { ExternalDataRef } from './proto';
import { directRows, quantizedBytes, quantizeRows, transposedRows, type BlockQuantization } from './quantize';
import { halfEmitter, LM_HEAD_WEIGHT, quantizedEmitter, type QuantizedRefs, type WeightEmitter } from './weight-emitter';
import { readSlice, widenToFloat32 } from './weights';

/** The variant's weights file inside its folder. */
export const VARIANT_WEIGHTS_FILE = 'weights.bin';

/** How a variant stores its matrices. */
export type VariantFormat =
  | { readonly precision: 'fp16' }
  | {
      readonly precision: 'int8' | 'int4';
      readonly quantization: BlockQuantization;
      /** MatMulNBits accuracy_level (see QuantizedWeights). */
      readonly accuracyLevel: number;
    };

/**
 * The formats `inkwell models convert` writes, chosen by measurement (`npm run bench --
 * --block-sizes`, docs/performance.md "Choosing the block size"). On the GPT-2 shape, over the
 * Brown sample, int4's mean KL against fp32 grows with the block: 0.32 nats at 32, 0.37 at 64,
 * 0.43 at 128, 0.50 at 256; per-block zero points lower block 32 to 0.29 for 2.5% more bytes
 * (1 byte per 64 weights), so int4 is block 32 with zero points. int8 at block 32 measured 1.7e-3
 * nats (2.7e-3 at 128), negligible next to int4, and stays symmetric. accuracy_level 4 (int8
 * activations) for both: for int8 it is the only fast CPU kernel (level 0 ran about 50× slower
 * here), and for int4 it gave the same KL as level 0 (0.3245 vs 0.3238) at a shorter step. The
 * larger blocks' few percent fewer bytes did not buy a step time we could separate from noise on
 * the shared 2-core machine, so the lower KL decided.
 */
export const VARIANT_FORMATS: Readonly<Record<VariantPrecision, VariantFormat>> = {
  fp16: { precision: 'fp16' },
  int8: { precision: 'int8', quantization: { bits: 8, blockSize: 32, symmetric: true }, accuracyLevel: 4 },
  int4: { precision: 'int4', quantization: { bits: 4, blockSize: 32, symmetric: false }, accuracyLevel: 4 },
};

/** Progress and cancellation of one variant build. */
export interface VariantBuildOptions {
  /** Fraction of the weight bytes written so far, 0 … 1. */
  readonly onProgress?: (fraction: number) => void;
  /** Checked between matrices; aborting throws EngineError('cancelled'). */
  readonly signal?: AbortSignal;
  /** Another format of the same precision (block-size measurements); default VARIANT_FORMATS[precision]. */
  readonly format?: VariantFormat;
}

/** What a variant build wrote. */
export interface BuiltVariant {
  readonly decoderPath: string;
  readonly fullLogitsPath: string;
  /** The batched decoder generation runs on (onnx/gpt2.ts 'rows'). */
  readonly rowsPath: string;
  readonly weightsPath: string;
  /** Matrix weight bytes a decode step reads (matrices, scales and zero points; not the embedding gather). */
  readonly matrixBytes: number;
  /** true when the token embedding reads the quantized lm_head bytes (GatherBlockQuantized). */
  readonly quantizedEmbedding: boolean;
}

const ALIGNMENT = 64;

/** Appends tensors to one file, each 64-byte aligned, and hands back their external-data references. */
class WeightFileWriter {
  readonly #fd: number;
  #at = 0;

  constructor(readonly path: string, private readonly location: string) {
    this.#fd = openSync(path, 'w');
  }

  append(bytes: Uint8Array): ExternalDataRef {
    const pad = (ALIGNMENT - (this.#at % ALIGNMENT)) % ALIGNMENT;
    if (pad > 0) this.#write(new Uint8Array(pad));
    const offset = this.#at;
    this.#write(bytes);
    return { location: this.location, offset, length: bytes.byteLength };
  }

  #write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.#fd, bytes, done, bytes.byteLength - done);
    this.#at += bytes.byteLength;
  }

  close(): void {
    fsyncSync(this.#fd);
    closeSync(this.#fd);
  }

  /** Closes without syncing after a failure (the caller deletes the file). */
  abandon(): void {
    closeSync(this.#fd);
  }
}

function bytesOf(array: Float32Array | Uint16Array | Uint8Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** A tensor's values as float32 (F16/BF16 widened exactly). */
function readFloat32(t: TensorLocation): Float32Array {
  const bytes = readSlice(t.file, t.offset, t.byteLength);
  if (t.dtype === 'F32') return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return widenToFloat32(bytes, t.dtype);
}

/** float32 → IEEE half bits, round to nearest even (what a GPU's fp16 weights hold). */
export function toHalfBits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = numberToHalf(values[i] as number);
  return out;
}

/** One weight matrix of the graph: its Conv1D name (or LM_HEAD_WEIGHT), the tensor holding it, and its product's K and N. */
interface MatrixSpec {
  readonly name: string;
  readonly tensor: TensorLocation;
  readonly k: number;
  readonly n: number;
  /** true: stored [N, K] (lm_head rows); false: Conv1D [K, N]. */
  readonly rowsAreOutputs: boolean;
}

function matrixSpecs(ckpt: Gpt2Checkpoint): MatrixSpec[] {
  const { nLayer, nEmbd: d, vocabSize } = ckpt.config;
  const tensor = (name: string): TensorLocation => {
    const t = ckpt.tensors.get(name);
    if (!t) throw new EngineError('bad_input', `${ckpt.dir}: tensor ${name} is missing`);
    return t;
  };
  const specs: MatrixSpec[] = [];
  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    specs.push(
      { name: `${p}attn.c_attn.weight`, tensor: tensor(`${p}attn.c_attn.weight`), k: d, n: 3 * d, rowsAreOutputs: false },
      { name: `${p}attn.c_proj.weight`, tensor: tensor(`${p}attn.c_proj.weight`), k: d, n: d, rowsAreOutputs: false },
      { name: `${p}mlp.c_fc.weight`, tensor: tensor(`${p}mlp.c_fc.weight`), k: d, n: 4 * d, rowsAreOutputs: false },
      { name: `${p}mlp.c_proj.weight`, tensor: tensor(`${p}mlp.c_proj.weight`), k: 4 * d, n: d, rowsAreOutputs: false },
    );
  }
  specs.push({ name: LM_HEAD_WEIGHT, tensor: tensor(ckpt.tiedLmHead ? 'wte.weight' : 'lm_head.weight'), k: d, n: vocabSize, rowsAreOutputs: true });
  return specs;
}

/** Bytes the variant's weights file will take (for the disk-space check before writing). */
export function variantWeightBytes(ckpt: Gpt2Checkpoint, precision: VariantPrecision): number {
  const format = VARIANT_FORMATS[precision];
  const matrices = matrixSpecs(ckpt).reduce((sum, m) => sum + (format.precision === 'fp16' ? m.k * m.n * 2 : quantizedBytes(m.n, m.k, format.quantization)), 0);
  const matrixNames = new Set(matrixSpecs(ckpt).map((m) => m.tensor.name));
  let floats = 0;
  for (const t of ckpt.tensors.values()) if (!matrixNames.has(t.name)) floats += (t.byteLength / (t.dtype === 'F32' ? 4 : 2)) * 4;
  // A float wte for the embedding: fp16 when untied, fp32 for int variants whose embedding is not quantized.
  const { vocabSize, nEmbd } = ckpt.config;
  const quantizedEmbedding = format.precision !== 'fp16' && ckpt.tiedLmHead && nEmbd % format.quantization.blockSize === 0;
  const embedding = format.precision === 'fp16' ? (ckpt.tiedLmHead ? 0 : vocabSize * nEmbd * 2) : quantizedEmbedding ? 0 : vocabSize * nEmbd * 4;
  return matrices + floats + embedding + ALIGNMENT * (ckpt.tensors.size + matrixSpecs(ckpt).length * 3);
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EngineError('cancelled', 'the conversion was cancelled');
}

/** Lets pending events (abort, progress output) through between two matrices of synchronous work. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Writes `outDir`/weights.bin, model.onnx, model_all_logits.onnx and model_rows.onnx of `precision` for `ckpt`.
 * The caller owns `outDir` (a temporary folder it renames into place or deletes): on failure or
 * cancellation files may remain there.
 */
export async function buildVariantOnnx(ckpt: Gpt2Checkpoint, outDir: string, precision: VariantPrecision, options: VariantBuildOptions = {}): Promise<BuiltVariant> {
  const used = checkCheckpoint(ckpt);
  const { nEmbd: d, vocabSize } = used.config;
  const format = options.format ?? VARIANT_FORMATS[precision];
  if (format.precision !== precision) throw new EngineError('internal', `a ${format.precision} format was given for a ${precision} variant`);
  mkdirSync(outDir, { recursive: true });
  const weightsPath = join(outDir, VARIANT_WEIGHTS_FILE);
  const writer = new WeightFileWriter(weightsPath, VARIANT_WEIGHTS_FILE);
  const specs = matrixSpecs(used);
  const totalValues = specs.reduce((sum, m) => sum + m.k * m.n, 0);
  let doneValues = 0;
  let matrixBytes = 0;
  let emitter: WeightEmitter;
  // The embedding shares lm_head's quantized bytes when wte is lm_head and each row is whole blocks.
  const quantizedEmbedding = format.precision !== 'fp16' && used.tiedLmHead && d % format.quantization.blockSize === 0;
  try {
    const matrixTensorNames = new Set(specs.map((m) => m.tensor.name));
    const floats = new Map<string, ExternalDataRef>();
    for (const t of used.tensors.values()) {
      const floatEmbedding = t.name === 'wte.weight' && format.precision !== 'fp16' && !quantizedEmbedding;
      const keepFloat = !matrixTensorNames.has(t.name) || floatEmbedding;
      if (keepFloat) floats.set(t.name, writer.append(bytesOf(readFloat32(t))));
    }
    options.onProgress?.(0);
    if (format.precision === 'fp16') {
      const halves = new Map<string, ExternalDataRef>();
      const wteName = used.tiedLmHead ? LM_HEAD_WEIGHT : 'wte.weight';
      if (!used.tiedLmHead) halves.set('wte.weight', writer.append(bytesOf(toHalfBits(readFloat32(used.tensors.get('wte.weight') as TensorLocation)))));
      for (const m of specs) {
        throwIfCancelled(options.signal);
        const ref = writer.append(bytesOf(toHalfBits(readFloat32(m.tensor))));
        halves.set(m.name === wteName ? 'wte.weight' : m.name, ref);
        matrixBytes += ref.length;
        doneValues += m.k * m.n;
        options.onProgress?.(doneValues / totalValues);
        await yieldToEventLoop();
      }
      emitter = halfEmitter({ floats, halves }, vocabSize, d);
    } else {
      const q = format.quantization;
      const matrices = new Map<string, QuantizedRefs>();
      for (const m of specs) {
        throwIfCancelled(options.signal);
        const values = readFloat32(m.tensor);
        const rows = m.rowsAreOutputs ? directRows(values, m.n, m.k) : transposedRows(values, m.k, m.n);
        const quantized = quantizeRows(m.n, m.k, rows, q);
        const refs: QuantizedRefs = {
          data: writer.append(quantized.data),
          scales: writer.append(bytesOf(quantized.scales)),
          ...(quantized.zeroPoints ? { zeroPoints: writer.append(quantized.zeroPoints) } : {}),
          kBlocks: quantized.kBlocks,
        };
        matrices.set(m.name, refs);
        matrixBytes += refs.data.length + refs.scales.length + (refs.zeroPoints?.length ?? 0);
        doneValues += m.k * m.n;
        options.onProgress?.(doneValues / totalValues);
        await yieldToEventLoop();
      }
      emitter = quantizedEmitter({ quantization: q, accuracyLevel: format.accuracyLevel, floats, matrices, quantizedEmbedding }, vocabSize, d);
    }
    writer.close();
  } catch (error) {
    writer.abandon();
    throw error;
  }
  throwIfCancelled(options.signal);
  const decoderPath = join(outDir, DECODER_FILE);
  const fullLogitsPath = join(outDir, FULL_LOGITS_FILE);
  const rowsPath = join(outDir, ROWS_FILE);
  for (const [path, logits] of [[decoderPath, 'last'], [fullLogitsPath, 'all'], [rowsPath, 'rows']] as const) {
    const graph = buildGpt2Graph(used.config, new Map(), used.tiedLmHead, { logits, emitter });
    writeFileSync(path, graph.toModelProto({ 'inkwell.precision': precision }));
  }
  return { decoderPath, fullLogitsPath, rowsPath, weightsPath, matrixBytes, quantizedEmbedding };
}
