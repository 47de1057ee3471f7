/**
 * Exports a GPT-2 checkpoint as two ONNX graphs (Optimum I/O contract) whose
 * weights are external data: model.onnx (last-position logits, for decoding) and
 * model_all_logits.onnx (every position's logits).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readCheckpoint } from '../checkpoint';
import { gpt2TensorShapes, LM_HEAD } from '../checkpoint/layout';
import { EngineError, type Gpt2Checkpoint } from '../types';
import { buildGpt2Graph, type AttentionImpl } from './gpt2';
import { placeFloat32Weights } from './weights';

export { DIMS, LOGSUMEXP_OUTPUT, newKvName, paddedHeadSize, pastName, presentName, type AttentionImpl } from './gpt2';

/** File names of the exported graphs inside the output folder. */
export const DECODER_FILE = 'model.onnx';
/** File name of the all-positions graph. */
export const FULL_LOGITS_FILE = 'model_all_logits.onnx';
/** File name of Inkwell's batched decoder (rows of different lengths; see buildGpt2Graph). */
export const ROWS_FILE = 'model_rows.onnx';

/** Options for tests and diagnostics; the defaults are the production choice. */
export interface BuildOptions {
  readonly attention?: AttentionImpl;
}

/** Every weight the graph reads: the GPT-2 layout, plus lm_head.weight when it is stored untied. */
function expectedShapes(ckpt: Gpt2Checkpoint): Map<string, number[]> {
  const shapes = gpt2TensorShapes(ckpt.config);
  if (!ckpt.tiedLmHead) shapes.set(LM_HEAD, [ckpt.config.vocabSize, ckpt.config.nEmbd]);
  return shapes;
}

/** Checks every tensor the graph needs and returns the checkpoint narrowed to exactly those. */
export function checkCheckpoint(ckpt: Gpt2Checkpoint): Gpt2Checkpoint {
  const { nEmbd, nHead } = ckpt.config;
  if (nHead <= 0 || nEmbd % nHead !== 0) {
    throw new EngineError('bad_input', `${join(ckpt.dir, 'config.json')}: n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  }
  const needed = expectedShapes(ckpt);
  for (const [name, shape] of needed) {
    const t = ckpt.tensors.get(name);
    if (t === undefined) throw new EngineError('bad_input', `${join(ckpt.dir, 'model.safetensors')}: tensor ${name} is missing`);
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
      throw new EngineError('bad_input', `${t.file}: tensor ${name} has shape [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}]`);
    }
  }
  return { ...ckpt, tensors: new Map([...ckpt.tensors].filter(([name]) => needed.has(name))) };
}

/**
 * Writes outDir/model.onnx and outDir/model_all_logits.onnx for `ckpt`. F32 weights are
 * referenced in place inside the checkpoint's model.safetensors, hard-linked into outDir as
 * outDir/model.safetensors because onnxruntime refuses external data outside the model's
 * folder; F16/BF16 weights are widened to float32 into outDir/weights.f32.bin, because the CPU
 * kernels of MultiHeadAttention and FastGelu are float-only. External-data paths are relative
 * to outDir. On failure nothing it wrote is left behind.
 */
export async function buildGpt2Onnx(ckpt: Gpt2Checkpoint, outDir: string, options: BuildOptions = {}): Promise<{ decoderPath: string; fullLogitsPath: string; rowsPath: string }> {
  const used = checkCheckpoint(ckpt);
  mkdirSync(outDir, { recursive: true });
  const decoderPath = join(outDir, DECODER_FILE);
  const fullLogitsPath = join(outDir, FULL_LOGITS_FILE);
  const rowsPath = join(outDir, ROWS_FILE);
  const written: string[] = [];
  try {
    const weights = placeFloat32Weights(used, outDir, written);
    for (const [path, logits] of [[decoderPath, 'last'], [fullLogitsPath, 'all'], [rowsPath, 'rows']] as const) {
      const graph = buildGpt2Graph(used.config, weights, used.tiedLmHead, { logits, ...options });
      written.push(path);
      writeFileSync(path, graph.toModelProto());
    }
  } catch (err) {
    for (const file of written) rmSync(file, { force: true });
    if (err instanceof EngineError) throw err;
    throw new EngineError('internal', `building the ONNX graph in ${outDir} failed: ${(err as Error).message}`, { cause: err });
  }
  return { decoderPath, fullLogitsPath, rowsPath };
}

/**
 * The fp32 graphs of a model folder (`modelDir`, graphs in `onnxDir`) with the rows graph beside
 * model.onnx, built first (ensureRowsGraph) for a model imported before that graph existed.
 */
export async function fp32GraphPaths(modelDir: string, paths: { decoderPath: string; fullLogitsPath: string }): Promise<{ decoderPath: string; fullLogitsPath: string; rowsPath: string }> {
  return { decoderPath: paths.decoderPath, fullLogitsPath: paths.fullLogitsPath, rowsPath: await ensureRowsGraph(modelDir, dirname(paths.decoderPath)) };
}

/** The operator that marks a rows graph made before attention read the cache in place. */
const EARLIER_ROWS_ATTENTION = Buffer.from('GroupQueryAttention');

/**
 * Whether the rows graph at `rowsPath` was made by an earlier version, whose attention
 * (GroupQueryAttention) copies the cache into a present buffer every step, buffers onnxruntime's
 * arena keeps until the model unloads. Such a graph still runs (same inputs and outputs). The
 * file holds no weights (they are external data), so reading it is cheap.
 */
export function isEarlierRowsGraph(rowsPath: string): boolean {
  return readFileSync(rowsPath).includes(EARLIER_ROWS_ATTENTION);
}

/**
 * Writes outDir/model_rows.onnx for a model whose graphs were built before that graph existed, or
 * before its attention read the cache in place (its checkpoint is `modelDir`), reusing the weights
 * already in outDir; returns its path. The file is written under a temporary name and renamed, so
 * a concurrent caller never reads half of it.
 */
export async function ensureRowsGraph(modelDir: string, outDir: string): Promise<string> {
  const rowsPath = join(outDir, ROWS_FILE);
  if (existsSync(rowsPath) && !isEarlierRowsGraph(rowsPath)) return rowsPath;
  const used = checkCheckpoint(await readCheckpoint(modelDir));
  const written: string[] = [];
  const partial = `${rowsPath}.${process.pid}.tmp`;
  try {
    const weights = placeFloat32Weights(used, outDir, written, true);
    writeFileSync(partial, buildGpt2Graph(used.config, weights, used.tiedLmHead, { logits: 'rows' }).toModelProto());
    renameSync(partial, rowsPath);
  } catch (err) {
    rmSync(partial, { force: true });
    for (const file of written) rmSync(file, { force: true });
    if (err instanceof EngineError) throw err;
    throw new EngineError('internal', `building ${rowsPath} failed: ${(err as Error).message}`, { cause: err });
  }
  return rowsPath;
}
