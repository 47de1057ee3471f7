/**
 * readCheckpoint: validates a Hugging Face GPT-2 checkpoint folder (config.json,
 * model.safetensors or its shards, tokenizer files) and locates every weight.
 * Pickle weights are refused, never loaded: unpickling can run arbitrary code.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Gpt2Checkpoint, Gpt2Config, TensorLocation } from '../types';
import { EngineError } from '../types';
import { parseGpt2Config, readJsonFile, readTextFile, MAX_SETTINGS_FILE_BYTES } from './config';
import { isWeightDtype } from './dtype';
import { describeValue } from './files';
import { gpt2TensorShapes, IGNORED_BUFFER, LM_HEAD, TRANSFORMER_PREFIX } from './layout';
import type { SafetensorsEntry } from './safetensors';
import { readSafetensorsHeader } from './safetensors';
import { checkBpeVocab, checkMergeList, checkMergesText, maxVocabularyId } from './tokenizer-check';

/** The single-file weights name. */
export const WEIGHTS_FILE = 'model.safetensors';
/** The index of a sharded safetensors checkpoint (`save_pretrained` above max_shard_size). */
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
/** Tokenizer and metadata files carried along with the weights when present. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'special_tokens_map.json'] as const;

const PICKLE_WEIGHTS = /\.(bin|pt|pth|ckpt|pkl)$/i;

/** Reads and validates the checkpoint in `dir`; throws EngineError naming the file and the problem. */
export async function readCheckpoint(dir: string): Promise<Gpt2Checkpoint> {
  const root = resolve(dir);
  const names = listFolder(root);
  // Weights first: a pickle-only folder is refused with the conversion command even when its
  // config.json is old or odd, since converting rewrites the config too.
  const weightFiles = await locateWeightFiles(root, names);
  const configFile = join(root, 'config.json');
  const configJson = await readJsonFile(configFile, MAX_SETTINGS_FILE_BYTES);
  const config = parseGpt2Config(configJson, configFile);
  const tensors = await locateTensors(weightFiles, config, configFile);
  if ((configJson as { tie_word_embeddings?: unknown }).tie_word_embeddings === false && !tensors.has(LM_HEAD)) {
    throw new EngineError('bad_input', `${weightFiles[0] ?? root}: missing tensor ${LM_HEAD} (config.json says tie_word_embeddings false)`);
  }
  await checkTokenizer(root, names, config);
  return { dir: root, config, tensors, tiedLmHead: !tensors.has(LM_HEAD) };
}

/** The weight files of a validated checkpoint folder (model.safetensors, or the index and its shards). */
export async function weightFileNames(dir: string): Promise<string[]> {
  const root = resolve(dir);
  const files = await locateWeightFiles(root, listFolder(root));
  return existsSync(join(root, WEIGHTS_INDEX_FILE)) ? [WEIGHTS_INDEX_FILE, ...files.map((f) => basename(f))] : files.map((f) => basename(f));
}

function listFolder(root: string): Set<string> {
  let stats;
  try {
    stats = statSync(root);
  } catch (error) {
    throw new EngineError('not_found', `${root}: checkpoint folder does not exist`, { cause: error });
  }
  if (!stats.isDirectory()) throw new EngineError('bad_input', `${root}: is not a folder (give the checkpoint folder holding config.json)`);
  return new Set(readdirSync(root));
}

function conversionHint(root: string): string {
  return `python -c "from transformers import GPT2LMHeadModel as M, AutoTokenizer as T; `
    + `M.from_pretrained('${root}').save_pretrained('OUT', safe_serialization=True); T.from_pretrained('${root}').save_pretrained('OUT')"`;
}

async function locateWeightFiles(root: string, names: ReadonlySet<string>): Promise<string[]> {
  if (names.has(WEIGHTS_FILE)) return [join(root, WEIGHTS_FILE)];
  if (names.has(WEIGHTS_INDEX_FILE)) return shardFiles(root, names);
  const pickles = [...names].filter((n) => PICKLE_WEIGHTS.test(n));
  if (pickles.length > 0) {
    throw new EngineError('refused', `${join(root, pickles[0] ?? '')}: PyTorch pickle weights are refused `
      + `(loading a pickle can run arbitrary code) and ${WEIGHTS_FILE} is missing. Convert the checkpoint to safetensors, `
      + `then import OUT: ${conversionHint(root)}`);
  }
  const other = [...names].find((n) => /^(tf_model\.h5|flax_model\.msgpack|model\.onnx)$/.test(n));
  throw new EngineError('not_found', `${join(root, WEIGHTS_FILE)}: missing`
    + (other ? ` (found ${other}, which Inkwell does not read; convert with: ${conversionHint(root)})` : ''));
}

async function shardFiles(root: string, names: ReadonlySet<string>): Promise<string[]> {
  const indexFile = join(root, WEIGHTS_INDEX_FILE);
  const index = await readJsonFile(indexFile);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new EngineError('bad_input', `${indexFile}: weight_map is missing or not an object`);
  }
  const shards = new Set<string>();
  for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    // Shard names are plain file names next to the index; anything else could point outside the folder.
    if (typeof shard !== 'string' || shard !== basename(shard) || shard.startsWith('.') || !shard.endsWith('.safetensors')) {
      throw new EngineError('bad_input', `${indexFile}: tensor ${describeValue(tensor)} maps to ${describeValue(shard)}, not a .safetensors file name in the same folder`);
    }
    if (!names.has(shard)) throw new EngineError('not_found', `${join(root, shard)}: missing (listed in ${WEIGHTS_INDEX_FILE})`);
    shards.add(shard);
  }
  if (shards.size === 0) throw new EngineError('bad_input', `${indexFile}: weight_map is empty`);
  return [...shards].sort().map((s) => join(root, s));
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Refuses an n_layer larger than the layers the headers actually hold before anything is sized by
 * the config: a config.json claiming 1e9 layers must fail here, not after building a billion
 * tensor names. A smaller or equal n_layer is bounded by the header and checked tensor by tensor.
 */
function checkLayerCount(found: ReadonlyMap<string, unknown>, config: Gpt2Config, primary: string, configFile: string): void {
  const layers = new Set<number>();
  for (const name of found.keys()) {
    const index = /^h\.(\d+)\./.exec(name)?.[1];
    if (index !== undefined) layers.add(Number(index));
  }
  if (config.nLayer <= layers.size) return;
  let gap = 0;
  while (layers.has(gap)) gap++;
  const count = layers.size === 1 ? '1 layer' : `${layers.size} layers`;
  const held = gap === layers.size ? (layers.size === 0 ? '0 layers' : `${count} (h.0 to h.${gap - 1})`) : `${count}, and none of layer h.${gap}`;
  throw new EngineError('bad_input', `${configFile}: n_layer is ${config.nLayer} but ${primary} holds ${held}`);
}

async function locateTensors(files: readonly string[], config: Gpt2Config, configFile: string): Promise<Map<string, TensorLocation>> {
  const found = new Map<string, { entry: SafetensorsEntry; file: string }>();
  for (const file of files) {
    const header = await readSafetensorsHeader(file);
    for (const entry of header.entries.values()) {
      const name = entry.key.startsWith(TRANSFORMER_PREFIX) ? entry.key.slice(TRANSFORMER_PREFIX.length) : entry.key;
      if (IGNORED_BUFFER.test(name)) continue;
      const previous = found.get(name);
      if (previous) {
        throw new EngineError('bad_input', `${file}: tensor ${entry.key} duplicates ${previous.entry.key} in ${previous.file}`);
      }
      found.set(name, { entry, file });
    }
  }

  const first = files[0] ?? '';
  const primary = files.length === 1 ? first : join(dirname(first), WEIGHTS_INDEX_FILE);
  checkLayerCount(found, config, primary, configFile);
  const expected = gpt2TensorShapes(config);
  const lmHead = found.get(LM_HEAD);
  if (lmHead) expected.set(LM_HEAD, [config.vocabSize, config.nEmbd]);
  const dims = `n_layer ${config.nLayer}, n_embd ${config.nEmbd}, n_positions ${config.nPositions}, vocab_size ${config.vocabSize}`;

  for (const name of found.keys()) {
    if (!expected.has(name)) {
      const { entry, file } = found.get(name) ?? { entry: undefined, file: primary };
      throw new EngineError('bad_input', `${file}: unexpected tensor ${entry?.key ?? name}; not part of GPT-2 with ${dims} (config.json)`);
    }
  }
  const tensors = new Map<string, TensorLocation>();
  for (const [name, shape] of expected) {
    const hit = found.get(name);
    if (!hit) throw new EngineError('bad_input', `${primary}: missing tensor ${name} (config.json: ${dims})`);
    const { entry, file } = hit;
    if (!isWeightDtype(entry.dtype)) {
      throw new EngineError('refused', `${file}: tensor ${entry.key} has dtype ${entry.dtype}; only F32, F16 and BF16 weights are supported`);
    }
    if (entry.shape.length !== shape.length || entry.shape.some((v, i) => v !== shape[i])) {
      throw new EngineError('bad_input', `${file}: tensor ${entry.key} has shape ${formatShape(entry.shape)} but config.json (${dims}) expects ${formatShape(shape)}`);
    }
    tensors.set(name, { name, dtype: entry.dtype, shape: entry.shape, file, offset: entry.offset, byteLength: entry.byteLength });
  }
  return tensors;
}

async function checkTokenizer(root: string, names: ReadonlySet<string>, config: Gpt2Config): Promise<void> {
  let maxId: number;
  if (names.has('tokenizer.json')) {
    const file = join(root, 'tokenizer.json');
    const json = await readJsonFile(file);
    const model = (json as { model?: { type?: unknown; vocab?: unknown; merges?: unknown } } | null)?.model;
    if (typeof model !== 'object' || model === null) throw new EngineError('bad_input', `${file}: has no "model" object`);
    if (model.type !== undefined && model.type !== 'BPE') {
      throw new EngineError('refused', `${file}: tokenizer model is ${describeValue(model.type)}; GPT-2 needs byte-level BPE`);
    }
    const vocab = checkBpeVocab(model.vocab, file);
    checkMergeList(model.merges, vocab, file);
    maxId = Math.max(maxVocabularyId(vocab), ...addedTokenIds(json, file));
  } else if (names.has('vocab.json') || names.has('merges.txt')) {
    const vocabFile = join(root, 'vocab.json');
    const mergesFile = join(root, 'merges.txt');
    if (!names.has('merges.txt')) throw new EngineError('not_found', `${mergesFile}: missing (vocab.json needs merges.txt)`);
    const vocab = checkBpeVocab(await readJsonFile(vocabFile), vocabFile);
    checkMergesText(await readTextFile(mergesFile), vocab, mergesFile);
    maxId = maxVocabularyId(vocab);
  } else {
    throw new EngineError('not_found', `${root}: no tokenizer: expected tokenizer.json, or vocab.json + merges.txt`);
  }
  if (names.has('tokenizer_config.json')) await readJsonFile(join(root, 'tokenizer_config.json'));
  if (maxId >= config.vocabSize) {
    throw new EngineError('bad_input', `${root}: the tokenizer has token id ${maxId} but config.json vocab_size is ${config.vocabSize}`);
  }
}

function addedTokenIds(json: unknown, file: string): number[] {
  const added = (json as { added_tokens?: unknown }).added_tokens;
  if (added === undefined || added === null) return [];
  if (!Array.isArray(added)) throw new EngineError('bad_input', `${file}: added_tokens is not a list`);
  return added.map((t: unknown) => {
    const id = (t as { id?: unknown } | null)?.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new EngineError('bad_input', `${file}: added token without a valid id`);
    return id;
  });
}
