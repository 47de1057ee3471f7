/**
 * Random F32 GPT-2 checkpoints of any size in the Hugging Face layout, written one
 * tensor at a time. The test factory (test/helpers/checkpoint-factory.ts) builds the
 * whole safetensors file in memory as float64 first, about 6 GB of arrays for GPT-2
 * Large; here at most one float32 tensor (wte, 257 MB for Large) is in memory.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gpt2TensorShapes } from '../src/main/engine/checkpoint/layout';
import { writeTokenizerConfig, writeTokenizerJson } from '../src/main/engine/checkpoint/tokenizer-files';
import { GPT2_EOS_ID, GPT2_VOCAB_SIZE, gpt2BpeTables } from '../test/helpers/checkpoint-factory';
import { fillNormal, mulberry32, tensorSeed } from '../test/helpers/random';

/** Bumped whenever the written bytes change, so cached bench models are rebuilt. */
export const CHECKPOINT_WRITER_VERSION = 1;

/** Shape of a random checkpoint (F32, tied lm_head, real GPT-2 vocabulary). */
export interface CheckpointShape {
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nPositions: number;
}

/**
 * Mean and std per tensor, the factory's choice: embeddings wide enough to spread the
 * logits, layer norms near 1, small biases, hidden matrices 1/sqrt(fan_in) so activations
 * stay O(1) (no overflow, no denormals that would make the timings meaningless).
 */
function initFor(name: string, shape: readonly number[], nEmbd: number): { mean: number; std: number } {
  if (name === 'wte.weight') return { mean: 0, std: Math.min(0.5, Math.max(0.1, 2 / Math.sqrt(nEmbd))) };
  if (name === 'wpe.weight') return { mean: 0, std: 0.1 };
  if (/ln_(1|2|f)\.weight$/.test(name)) return { mean: 1, std: 0.1 };
  if (name.endsWith('.bias')) return { mean: 0, std: 0.05 };
  return { mean: 0, std: 1 / Math.sqrt(shape[0] ?? 1) };
}

function configJson(shape: CheckpointShape): object {
  return {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    bos_token_id: GPT2_EOS_ID,
    eos_token_id: GPT2_EOS_ID,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: shape.nPositions,
    n_embd: shape.nEmbd,
    n_head: shape.nHead,
    n_inner: null,
    n_layer: shape.nLayer,
    n_positions: shape.nPositions,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: GPT2_VOCAB_SIZE,
  };
}

/**
 * Writes config.json, model.safetensors and the tokenizer files of a random F32 GPT-2 into
 * `dir` (which must not exist). Built in a sibling temporary folder and renamed into place,
 * so an interrupted run leaves no folder that looks complete.
 */
export function writeRandomCheckpoint(dir: string, shape: CheckpointShape, seed: number, onProgress?: (fraction: number) => void): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  mkdirSync(tmp);
  try {
    writeFileSync(join(tmp, 'config.json'), `${JSON.stringify(configJson(shape), null, 2)}\n`);
    writeSafetensors(join(tmp, 'model.safetensors'), shape, seed, onProgress);
    writeTokenizerJson(tmp, gpt2BpeTables());
    writeTokenizerConfig(tmp, shape.nPositions);
    renameSync(tmp, dir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}

function writeSafetensors(file: string, shape: CheckpointShape, seed: number, onProgress?: (fraction: number) => void): void {
  const shapes = gpt2TensorShapes({ nLayer: shape.nLayer, nEmbd: shape.nEmbd, nPositions: shape.nPositions, vocabSize: GPT2_VOCAB_SIZE });
  const names = [...shapes.keys()].sort();
  const count = (name: string): number => (shapes.get(name) ?? []).reduce((a, b) => a * b, 1);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const name of names) {
    const bytes = count(name) * 4;
    header[name] = { dtype: 'F32', shape: shapes.get(name), data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const total = offset;
  let json = JSON.stringify(header);
  // The data section starts 8-byte aligned, as safetensors writers do.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.byteLength));

  const fd = openSync(file, 'w');
  try {
    writeAll(fd, prefix);
    writeAll(fd, headerBytes);
    let written = 0;
    for (const name of names) {
      const tensorShape = shapes.get(name) ?? [];
      const values = new Float32Array(count(name));
      const { mean, std } = initFor(name, tensorShape, shape.nEmbd);
      fillNormal(values, mulberry32(tensorSeed(seed, `${name}:${tensorShape.join('x')}`)), mean, std);
      writeAll(fd, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      written += values.byteLength;
      onProgress?.(written / total);
    }
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}
