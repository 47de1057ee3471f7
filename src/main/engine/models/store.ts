/**
 * The model store: <home>/models/<id>/ holds a checkpoint's files, its ONNX
 * graphs and inkwell-model.json. Imports are built in a .tmp-* folder and
 * renamed into place, and removals rename to .trash-* first, so a crash never
 * leaves a half-written or half-deleted model listed. Free disk space is
 * checked before an import writes anything, and a full or unwritable disk is
 * reported as such.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync, constants as fsConstants, existsSync, fsyncSync, linkSync, mkdirSync, mkdtempSync, openSync,
  readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ModelId, WeightDtype } from '../../../shared/api';
import { readCheckpoint, TOKENIZER_FILES, weightFileNames } from '../checkpoint';
import { checkFiniteWeights } from '../checkpoint/finite';
import { gpt2TokenizerConfig, readVocabAndMerges, writeTokenizerJson } from '../checkpoint/tokenizer-files';
import { buildGpt2Onnx, fp32GraphPaths } from '../onnx';
import { buildVariantOnnx, VARIANT_FORMATS, variantWeightBytes } from '../onnx/variant';
import { VARIANT_PRECISIONS, type Precision, type VariantPrecision } from '../precision';
import { loadTokenizer } from '../tokenizer';
import type { Gpt2Checkpoint, Gpt2Config } from '../types';
import { EngineError } from '../types';
import { describeQualitySample, qualityWindows } from './quality-sample';
import { diskWriteError, ensureDiskSpace, freeDiskBytes, type FreeDiskBytes } from './disk';
import { hfHubCacheDir, importFromHfCache, listHfCache, type CacheImportOptions, type HfCacheListing } from './hf-cache';
import { pull, type PullOptions, type PullResult } from './pull';

/** A model in the store, as list/get/import report it. */
export interface StoredModel {
  readonly id: string;
  /** Absolute folder of the model. */
  readonly dir: string;
  readonly config: Gpt2Config;
  /** Storage dtype of the weights (that of wte). */
  readonly dtype: WeightDtype;
  readonly parameters: number;
  /** Bytes the model's folder takes on disk (weights, tokenizer, graphs). */
  readonly sizeBytes: number;
  /** ISO 8601 time of import. */
  readonly importedAt: string;
  /** Human-readable description, e.g. "gpt2-like 12L/768d (124M)". */
  readonly name: string;
  /** <dir>/onnx/model.onnx */
  readonly decoderPath: string;
  /** <dir>/onnx/model_all_logits.onnx */
  readonly fullLogitsPath: string;
  /** Precision variants made by convert(), in VARIANT_PRECISIONS order. */
  readonly variants: readonly StoredVariant[];
  /** Where the checkpoint came from. */
  readonly origin: ModelOrigin;
  /**
   * True when the store's weight files are hard links to the source's (an HF-cache blob, a
   * finished download): no second copy on disk, and removing the model frees only what the source
   * no longer holds.
   */
  readonly weightsLinked: boolean;
}

/** Where a stored model came from, as inkwell-model.json records it. */
export const ModelOrigin = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('folder'), path: z.string() }),
  z.object({ kind: z.literal('hf-cache'), repo: z.string(), revision: z.string(), path: z.string() }),
  z.object({ kind: z.literal('hub'), repo: z.string(), revision: z.string().optional(), endpoint: z.string() }),
]);
/** Where a stored model came from. */
export type ModelOrigin = z.infer<typeof ModelOrigin>;

/** How import brings the checkpoint's files into the store. */
export type ImportTransfer =
  /** Copies (reflinked where the file system can): the store keeps its own bytes of a folder the user may change. */
  | 'copy'
  /** Hard links, for sources that are never rewritten in place (HF-cache blobs, finished downloads); copies where linking is impossible. */
  | 'link';

/** What an import is doing, for a progress bar; bytes count the phase's own work. */
export interface ImportProgress {
  readonly phase: 'copying' | 'scanning' | 'building';
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

/** Options of ModelStore.import. */
export interface ImportOptions {
  /** Default 'copy'. */
  readonly transfer?: ImportTransfer;
  /** Recorded in inkwell-model.json; default { kind: 'folder', path: <srcDir> }. */
  readonly origin?: ModelOrigin;
  /** Aborting stops the import between steps ('cancelled'); nothing is left in the store. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ImportProgress) => void;
}

/** A precision variant of a stored model (onnx/<precision>/ inside the model's folder). */
export type StoredVariant = Omit<VariantMeta, 'dir' | 'decoder' | 'fullLogits'> & {
  /** Absolute folder of the variant. */
  readonly dir: string;
  readonly decoderPath: string;
  readonly fullLogitsPath: string;
};

/** Where a conversion is: `fraction` is of the whole conversion, 0 … 1. */
export interface ConvertProgress {
  readonly phase: 'weights' | 'quality' | 'speed' | 'done';
  readonly fraction: number;
}

/** Progress, cancellation and measurement of one conversion. */
export interface ConvertOptions {
  readonly onProgress?: (progress: ConvertProgress) => void;
  /** Aborting stops the conversion at the next matrix or measurement and leaves nothing behind. */
  readonly signal?: AbortSignal;
  /** Measure quality and speed against fp32 (default true; the figures stay null otherwise). */
  readonly measure?: boolean;
}

/** Builds the ONNX graphs of a checkpoint into `outDir` (B's buildGpt2Onnx by default). */
export type OnnxBuilder = (ckpt: Gpt2Checkpoint, outDir: string) => Promise<{ decoderPath: string; fullLogitsPath: string }>;

/** Injectable collaborators (tests stub the graph builder, and the free-space probe to simulate a disk that fills up after the check). */
export interface ModelStoreOptions {
  readonly buildOnnx?: OnnxBuilder;
  readonly freeDiskBytes?: FreeDiskBytes;
}

/** The metadata file written last into every stored model. */
export const MODEL_META_FILE = 'inkwell-model.json';

const STALE_MS = 60 * 60 * 1000;
const OTHER_FILES = ['config.json', 'generation_config.json'] as const;
/** Room kept free beyond an import's own files: the graphs, metadata and the file system's own needs. */
const IMPORT_MARGIN_BYTES = 32 * 1024 * 1024;
/** errno codes of a hard link the file system cannot make (another device, no link support, too many links, not allowed). */
const LINK_IMPOSSIBLE = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'EACCES']);

const ConfigSchema = z.strictObject({
  modelType: z.literal('gpt2'),
  nLayer: z.int().positive(),
  nEmbd: z.int().positive(),
  nHead: z.int().positive(),
  nPositions: z.int().positive(),
  vocabSize: z.int().positive(),
  layerNormEpsilon: z.number().positive(),
  bosTokenId: z.int().nonnegative(),
  eosTokenId: z.int().nonnegative(),
});

const QualitySchema = z.object({
  sample: z.string(),
  positions: z.int().positive(),
  meanKl: z.number().nonnegative(),
  maxKl: z.number().nonnegative(),
  greedyAgreement: z.number().min(0).max(1),
  perplexity: z.number().positive(),
  fp32Perplexity: z.number().positive(),
});

const SpeedSchema = z.object({
  device: z.literal('cpu'),
  threads: z.int().positive(),
  promptTokens: z.int().positive(),
  steps: z.int().positive(),
  decodeMsPerStep: z.number().positive(),
  fp32DecodeMsPerStep: z.number().positive(),
});

const VariantMetaSchema = z.object({
  precision: z.enum(VARIANT_PRECISIONS),
  /** Relative to the model's folder, like decoder and fullLogits. */
  dir: z.string(),
  decoder: z.string(),
  fullLogits: z.string(),
  createdAt: z.string(),
  /** Bytes of the variant's own files. */
  sizeBytes: z.int().nonnegative(),
  /** Weight-matrix bytes one decode step reads (every block matrix and lm_head, with scales and zero points). */
  matrixBytes: z.int().nonnegative(),
  format: z.object({
    bits: z.union([z.literal(4), z.literal(8), z.literal(16)]),
    blockSize: z.int().positive().nullable(),
    symmetric: z.boolean().nullable(),
    accuracyLevel: z.int().nonnegative().nullable(),
    embedding: z.enum(['GatherBlockQuantized', 'Gather']),
    matmul: z.enum(['MatMulNBits', 'MatMul']),
  }),
  quality: QualitySchema.nullable(),
  speed: SpeedSchema.nullable(),
});
type VariantMeta = z.infer<typeof VariantMetaSchema>;

const MetaSchema = z.object({
  formatVersion: z.literal(1),
  id: z.string(),
  name: z.string(),
  importedAt: z.string(),
  dtype: WeightDtype,
  parameters: z.int().nonnegative(),
  sizeBytes: z.int().nonnegative(),
  source: z.string(),
  config: ConfigSchema,
  decoder: z.string(),
  fullLogits: z.string(),
  variants: z.array(VariantMetaSchema).optional(),
  origin: ModelOrigin.optional(),
  weights: z.enum(['copied', 'linked']).optional(),
});
type ModelMeta = z.infer<typeof MetaSchema>;

/** Throws EngineError('bad_input') unless `id` is a valid model id (the API's ModelId rule, src/shared/api.ts). */
export function checkModelId(id: string): void {
  const checked = ModelId.safeParse(id);
  if (!checked.success) {
    throw new EngineError('bad_input', `invalid model id ${JSON.stringify(String(id).slice(0, 80))}: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  }
}

/** "124M"-style parameter count. */
export function formatParameters(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e8) return `${Math.round(n / 1e6)}M`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/**
 * Weight bytes one decode step reads in `precision`: every block matrix and lm_head (the
 * embedding gathers one row). fp32 from the shapes (untied or tied, lm_head is [vocab, d]);
 * variants as their converter counted them, scales and zero points included.
 */
export function decodeWeightBytes(model: StoredModel, precision: Precision): number {
  if (precision !== 'fp32') {
    const variant = model.variants.find((v) => v.precision === precision);
    if (!variant) throw new EngineError('not_found', `model ${JSON.stringify(model.id)} has no ${precision} variant`);
    return variant.matrixBytes;
  }
  const { nLayer, nEmbd: d, vocabSize } = model.config;
  return 4 * (nLayer * 12 * d * d + vocabSize * d);
}

/** Default display name derived from the config. */
export function describeModel(config: Gpt2Config, parameters: number): string {
  return `gpt2-like ${config.nLayer}L/${config.nEmbd}d (${formatParameters(parameters)})`;
}

function countParameters(ckpt: Gpt2Checkpoint): number {
  let total = 0;
  for (const t of ckpt.tensors.values()) total += t.shape.reduce((a, b) => a * b, 1);
  return total;
}

/**
 * Bytes the folder takes on disk, each file counted once: onnx/model.safetensors is a hard link to
 * the checkpoint's weights (buildGpt2Onnx), and counting it twice would double a model's size.
 */
function folderSize(dir: string, seen = new Set<string>()): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      total += folderSize(path, seen);
      continue;
    }
    const stat = statSync(path);
    const inode = `${stat.dev}:${stat.ino}`;
    if (seen.has(inode)) continue;
    seen.add(inode);
    total += stat.size;
  }
  return total;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } catch (error) {
    // Windows cannot fsync a directory handle; the files inside were synced one by one.
    if (!statSync(path).isDirectory()) throw error;
  } finally {
    closeSync(fd);
  }
}

function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(path);
    else fsyncPath(path);
  }
  fsyncPath(dir);
}

/** Room left for the two graph files and the metadata beside a variant's weights. */
const GRAPH_BYTES_MARGIN = 16 * 1024 * 1024;

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EngineError('cancelled', 'the conversion was cancelled');
}

/**
 * Replaces a model's metadata file in one rename, with sizeBytes recounted for the folder as
 * it now is (the file's own length included, so the count is rewritten until it settles).
 */
function writeMeta(dir: string, meta: ModelMeta): void {
  const path = join(dir, MODEL_META_FILE);
  const others = folderSize(dir) - (existsSync(path) ? statSync(path).size : 0);
  const next = { ...meta };
  let json = `${JSON.stringify(next, null, 2)}\n`;
  while (next.sizeBytes !== others + Buffer.byteLength(json)) {
    next.sizeBytes = others + Buffer.byteLength(json);
    json = `${JSON.stringify(next, null, 2)}\n`;
  }
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, json);
  fsyncPath(tmp);
  renameSync(tmp, path);
  fsyncPath(dir);
}

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** Models on disk under <home>/models. */
export class ModelStore {
  /** <home>/models */
  readonly root: string;
  /** The data folder the store lives in (<home>; downloads go to <home>/downloads). */
  readonly home: string;
  private readonly buildOnnx: OnnxBuilder;
  /** Free bytes on a disk (statfs). */
  readonly freeDiskBytes: FreeDiskBytes;

  constructor(home: string, options: ModelStoreOptions = {}) {
    this.home = resolve(home);
    this.root = resolve(home, 'models');
    this.buildOnnx = options.buildOnnx ?? ((ckpt, outDir) => buildGpt2Onnx(ckpt, outDir));
    this.freeDiskBytes = options.freeDiskBytes ?? freeDiskBytes;
  }

  /** Every complete model, sorted by id; unfinished imports and removals are skipped (and cleaned once stale). */
  list(): StoredModel[] {
    if (!existsSync(this.root)) return [];
    const models: StoredModel[] = [];
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name.startsWith('.')) {
        this.cleanIfStale(entry.name);
        continue;
      }
      const model = this.readModel(entry.name);
      if (model) models.push(model);
    }
    return models.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The model `id`; EngineError not_found when there is none. */
  get(id: string): StoredModel {
    checkModelId(id);
    const model = this.readModel(id);
    if (!model) throw new EngineError('not_found', `no model with id ${JSON.stringify(id)} (see \`inkwell models list\`)`);
    return model;
  }

  /**
   * Validates the checkpoint in `srcDir`, brings its files into the store (copied, or hard-linked
   * with transfer 'link'), scans the weights for NaN/Inf, builds its ONNX graphs and stores it as
   * `id`. Free disk space is checked first; on any failure nothing is left under models/.
   */
  async import(srcDir: string, id: string, options: ImportOptions = {}): Promise<StoredModel> {
    checkModelId(id);
    this.refuseExisting(id);
    const source = resolve(srcDir);
    const checked = await readCheckpoint(source);
    const names = await this.checkpointFileNames(source);
    const what = `importing ${JSON.stringify(id)}`;
    try {
      mkdirSync(this.root, { recursive: true });
    } catch (error) {
      throw diskWriteError(error, this.root, what) ?? error;
    }
    await ensureDiskSpace(this.root, this.importBytesNeeded(source, names, checked, options.transfer ?? 'copy'), what, this.freeDiskBytes);
    const tmp = mkdtempSync(join(this.root, '.tmp-'));
    try {
      const linked = await this.bringFiles(source, tmp, names, options);
      await this.completeTokenizer(tmp, checked.config.nPositions);
      const ckpt = await readCheckpoint(tmp);
      await checkFiniteWeights(ckpt, {
        signal: options.signal,
        onProgress: (p) => options.onProgress?.({ phase: 'scanning', ...p }),
      });
      options.signal?.throwIfAborted();
      options.onProgress?.({ phase: 'building', bytesDone: 0, bytesTotal: 1 });
      const onnxDir = join(tmp, 'onnx');
      const built = await this.buildOnnx(ckpt, onnxDir);
      for (const [label, path] of [['decoder', built.decoderPath], ['full-logits', built.fullLogitsPath]] as const) {
        if (!isInside(tmp, resolve(path)) || !existsSync(path)) {
          throw new EngineError('internal', `the ONNX builder did not write the ${label} graph inside ${onnxDir} (got ${path})`);
        }
      }
      options.onProgress?.({ phase: 'building', bytesDone: 1, bytesTotal: 1 });
      const parameters = countParameters(ckpt);
      const meta: ModelMeta = {
        formatVersion: 1,
        id,
        name: describeModel(ckpt.config, parameters),
        importedAt: new Date().toISOString(),
        dtype: ckpt.tensors.get('wte.weight')?.dtype ?? 'F32',
        parameters,
        sizeBytes: 0,
        source,
        config: ckpt.config,
        decoder: relative(tmp, resolve(built.decoderPath)),
        fullLogits: relative(tmp, resolve(built.fullLogitsPath)),
        origin: options.origin ?? { kind: 'folder', path: source },
        weights: linked ? 'linked' : 'copied',
      };
      const metaJson = () => `${JSON.stringify(meta, null, 2)}\n`;
      // sizeBytes counts the metadata file too, whose length depends on sizeBytes: rewrite until it settles.
      writeFileSync(join(tmp, MODEL_META_FILE), metaJson());
      while (meta.sizeBytes !== folderSize(tmp)) {
        meta.sizeBytes = folderSize(tmp);
        writeFileSync(join(tmp, MODEL_META_FILE), metaJson());
      }
      fsyncTree(tmp);
      options.signal?.throwIfAborted();
      this.refuseExisting(id);
      try {
        renameSync(tmp, join(this.root, id));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM') {
          throw new EngineError('bad_input', `a model with id ${JSON.stringify(id)} already exists`, { cause: error });
        }
        throw error;
      }
      fsyncPath(this.root);
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      if (options.signal?.aborted) throw new EngineError('cancelled', `${what} was cancelled; nothing was stored`, { cause: error });
      const disk = diskWriteError(error, this.root, what);
      if (disk) throw disk;
      if (error instanceof EngineError) throw error;
      throw new EngineError('internal', `importing ${source} as ${JSON.stringify(id)} failed: ${(error as Error).message}`, { cause: error });
    }
    return this.get(id);
  }

  /**
   * Downloads `nameOrAlias` from the Hugging Face Hub (a catalog alias, bert-base-uncased for its
   * tokenizer files, or any owner/name GPT-2 repository) and imports it; see pull.ts.
   */
  pull(nameOrAlias: string, options: PullOptions = {}): Promise<PullResult> {
    return pull(this, nameOrAlias, options);
  }

  /** The repositories in the local Hugging Face cache (default: where huggingface_hub keeps it), those already imported marked. */
  listHfCache(cacheDir: string = hfHubCacheDir()): Promise<HfCacheListing> {
    return listHfCache(cacheDir, this);
  }

  /** Imports a repository from the local Hugging Face cache, hard-linking its weights instead of copying them. */
  importFromHfCache(nameOrAlias: string, options: Partial<CacheImportOptions> = {}): Promise<StoredModel> {
    return importFromHfCache(this, nameOrAlias, { cacheDir: hfHubCacheDir(), ...options });
  }

  /** Throws EngineError('bad_input') unless `id` is a valid id that no stored model uses (case-insensitively). */
  ensureIdFree(id: string): void {
    checkModelId(id);
    this.refuseExisting(id);
  }

  /** Deletes model `id`; EngineError not_found when there is none. */
  remove(id: string): void {
    checkModelId(id);
    const dir = join(this.root, id);
    if (!existsSync(dir)) throw new EngineError('not_found', `no model with id ${JSON.stringify(id)} (see \`inkwell models list\`)`);
    const trash = join(this.root, `.trash-${randomBytes(6).toString('hex')}`);
    renameSync(dir, trash);
    rmSync(trash, { recursive: true, force: true });
  }

  private refuseExisting(id: string): void {
    if (!existsSync(this.root)) return;
    // Case-insensitive: on macOS and Windows "GPT2" and "gpt2" are the same folder.
    const clash = readdirSync(this.root).find((name) => name.toLowerCase() === id.toLowerCase());
    if (clash !== undefined) throw new EngineError('bad_input', `a model with id ${JSON.stringify(clash)} already exists; remove it first or choose another id`);
  }

  /** Names of the files of the checkpoint in `source` that the store keeps (weights, config, tokenizer). */
  private async checkpointFileNames(source: string): Promise<string[]> {
    const names = [...await weightFileNames(source), ...OTHER_FILES, ...TOKENIZER_FILES];
    return names.filter((name) => existsSync(join(source, name)));
  }

  /**
   * Bytes an import writes: the files it copies (none of those it can link), the float32 side file
   * the graph builder widens F16/BF16 weights into, and a margin.
   */
  private importBytesNeeded(source: string, names: readonly string[], ckpt: Gpt2Checkpoint, transfer: ImportTransfer): number {
    let bytes = IMPORT_MARGIN_BYTES;
    if (transfer === 'copy') for (const name of names) bytes += statSync(join(source, name)).size;
    for (const t of ckpt.tensors.values()) if (t.dtype !== 'F32') bytes += 2 * t.byteLength;
    return bytes;
  }

  /** Copies or hard-links `names` from `source` into `target`; true when every weight file was linked. */
  private async bringFiles(source: string, target: string, names: readonly string[], options: ImportOptions): Promise<boolean> {
    const weights = new Set(await weightFileNames(source));
    const sizes = names.map((name) => statSync(join(source, name)).size);
    const bytesTotal = sizes.reduce((a, b) => a + b, 0);
    let bytesDone = 0;
    let allLinked = true;
    for (const [i, name] of names.entries()) {
      options.signal?.throwIfAborted();
      const from = join(source, name);
      const to = join(target, name);
      let linked = false;
      if (options.transfer === 'link') {
        try {
          // link(2) does not follow symlinks: link the file an HF-cache snapshot entry points to.
          linkSync(realpathSync(from), to);
          linked = true;
        } catch (error) {
          if (!LINK_IMPOSSIBLE.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
          if (weights.has(name)) await ensureDiskSpace(target, (sizes[i] ?? 0) + IMPORT_MARGIN_BYTES, `copying ${name} (it cannot be hard-linked here)`, this.freeDiskBytes);
        }
      }
      if (!linked) await copyFile(from, to, fsConstants.COPYFILE_FICLONE);
      if (weights.has(name) && !linked) allLinked = false;
      bytesDone += sizes[i] ?? 0;
      options.onProgress?.({ phase: 'copying', bytesDone, bytesTotal });
    }
    return allLinked;
  }

  /** transformers.js loads tokenizer.json + tokenizer_config.json only; legacy checkpoints ship vocab.json + merges.txt. */
  private async completeTokenizer(target: string, nPositions: number): Promise<void> {
    if (!existsSync(join(target, 'tokenizer.json'))) writeTokenizerJson(target, await readVocabAndMerges(target));
    if (!existsSync(join(target, 'tokenizer_config.json'))) {
      writeFileSync(join(target, 'tokenizer_config.json'), JSON.stringify(gpt2TokenizerConfig(nPositions), null, 2));
    }
  }

  /**
   * Writes the precision variant `precision` of model `id` into <dir>/onnx/<precision>/ (built in
   * a temporary folder beside it and renamed into place, replacing an older one), measures it
   * against fp32 unless told not to, and records it in the model's metadata. Free disk space is
   * checked first; on failure or cancellation nothing of it is left behind.
   */
  async convert(id: string, precision: VariantPrecision, options: ConvertOptions = {}): Promise<StoredVariant> {
    const model = this.get(id);
    const measure = options.measure ?? true;
    const report = (phase: ConvertProgress['phase'], fraction: number): void => options.onProgress?.({ phase, fraction: Math.min(1, Math.max(0, fraction)) });
    // Shares of the whole conversion: writing the weights, then the two measurements.
    const [weightsShare, qualityShare] = measure ? [0.6, 0.25] : [1, 0];
    const ckpt = await readCheckpoint(model.dir);
    const onnxRoot = join(model.dir, 'onnx');
    this.cleanStaleIn(onnxRoot);
    await ensureDiskSpace(onnxRoot, variantWeightBytes(ckpt, precision) + GRAPH_BYTES_MARGIN, `the ${precision} variant of ${id}`, this.freeDiskBytes);
    const tmp = mkdtempSync(join(onnxRoot, `.tmp-${precision}-`));
    try {
      report('weights', 0);
      const built = await buildVariantOnnx(ckpt, tmp, precision, { signal: options.signal, onProgress: (f) => report('weights', f * weightsShare) });
      let quality: VariantMeta['quality'] = null;
      let speed: VariantMeta['speed'] = null;
      if (measure) {
        report('quality', weightsShare);
        const tokenizer = await loadTokenizer(model.dir);
        const { windows, windowTokens } = qualityWindows((text) => tokenizer.encode(text), model.config.nPositions);
        // Loaded on first use: measuring opens onnxruntime sessions, which the desktop main process (that reads the store) must never load.
        const { measureQuality, measureSpeed } = await import('./variant-measure');
        quality = await measureQuality(model.fullLogitsPath, built.fullLogitsPath, model.config, windows, describeQualitySample(windowTokens), options.signal);
        throwIfCancelled(options.signal);
        report('speed', weightsShare + qualityShare);
        speed = await measureSpeed(await fp32GraphPaths(model.dir, model), built, model.config, windows[0] ?? [model.config.eosTokenId]);
      }
      throwIfCancelled(options.signal);
      fsyncTree(tmp);
      const format = VARIANT_FORMATS[precision];
      const entry: VariantMeta = {
        precision,
        dir: relative(model.dir, join(onnxRoot, precision)),
        decoder: relative(model.dir, join(onnxRoot, precision, relative(tmp, built.decoderPath))),
        fullLogits: relative(model.dir, join(onnxRoot, precision, relative(tmp, built.fullLogitsPath))),
        createdAt: new Date().toISOString(),
        sizeBytes: folderSize(tmp),
        matrixBytes: built.matrixBytes,
        format: format.precision === 'fp16'
          ? { bits: 16, blockSize: null, symmetric: null, accuracyLevel: null, embedding: 'Gather', matmul: 'MatMul' }
          : {
              bits: format.quantization.bits,
              blockSize: format.quantization.blockSize,
              symmetric: format.quantization.symmetric,
              accuracyLevel: format.accuracyLevel,
              embedding: built.quantizedEmbedding ? 'GatherBlockQuantized' : 'Gather',
              matmul: 'MatMulNBits',
            },
        quality,
        speed,
      };
      this.commitVariant(model.id, tmp, entry);
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      if (error instanceof EngineError) throw error;
      throw new EngineError('internal', `converting ${JSON.stringify(id)} to ${precision} failed: ${(error as Error).message}`, { cause: error });
    }
    report('done', 1);
    const stored = this.get(id).variants.find((v) => v.precision === precision);
    if (!stored) throw new EngineError('internal', `the ${precision} variant of ${JSON.stringify(id)} was written but is not listed`);
    return stored;
  }

  /** Deletes the `precision` variant of model `id` (the metadata first, so it is never listed half-deleted). */
  removeVariant(id: string, precision: VariantPrecision): void {
    const model = this.get(id);
    const variant = model.variants.find((v) => v.precision === precision);
    if (!variant) throw new EngineError('not_found', `model ${JSON.stringify(id)} has no ${precision} variant`);
    const meta = this.readMeta(model.dir);
    writeMeta(model.dir, { ...meta, variants: (meta.variants ?? []).filter((v) => v.precision !== precision) });
    const trash = join(model.dir, 'onnx', `.trash-${randomBytes(6).toString('hex')}`);
    renameSync(variant.dir, trash);
    rmSync(trash, { recursive: true, force: true });
    writeMeta(model.dir, this.readMeta(model.dir));
  }

  /** Renames a finished variant folder into place and records it; the metadata rename is the commit point. */
  private commitVariant(id: string, tmp: string, entry: VariantMeta): void {
    const dir = join(this.root, id);
    const target = resolve(dir, entry.dir);
    let trash: string | undefined;
    if (existsSync(target)) {
      trash = join(dir, 'onnx', `.trash-${randomBytes(6).toString('hex')}`);
      renameSync(target, trash);
    }
    renameSync(tmp, target);
    fsyncPath(join(dir, 'onnx'));
    // Gone before the metadata is written, so the model's size no longer counts the replaced files.
    if (trash) rmSync(trash, { recursive: true, force: true });
    const meta = this.readMeta(dir);
    const variants = [...(meta.variants ?? []).filter((v) => v.precision !== entry.precision), entry]
      .sort((a, b) => VARIANT_PRECISIONS.indexOf(a.precision) - VARIANT_PRECISIONS.indexOf(b.precision));
    writeMeta(dir, { ...meta, variants });
  }

  private readMeta(dir: string): ModelMeta {
    return MetaSchema.parse(JSON.parse(readFileSync(join(dir, MODEL_META_FILE), 'utf8')));
  }

  /** Removes unfinished conversions (.tmp-*) and removals (.trash-*) in a model's onnx folder once they are stale. */
  private cleanStaleIn(onnxRoot: string): void {
    if (!existsSync(onnxRoot)) return;
    for (const name of readdirSync(onnxRoot)) {
      if (!name.startsWith('.tmp-') && !name.startsWith('.trash-')) continue;
      const path = join(onnxRoot, name);
      try {
        if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
      } catch {
        // Another process may be finishing or cleaning it right now.
      }
    }
  }

  private readModel(id: string): StoredModel | undefined {
    const dir = join(this.root, id);
    let meta: ModelMeta;
    try {
      meta = this.readMeta(dir);
    } catch {
      return undefined;
    }
    const decoderPath = resolve(dir, meta.decoder);
    const fullLogitsPath = resolve(dir, meta.fullLogits);
    if (meta.id !== id || !isInside(dir, decoderPath) || !isInside(dir, fullLogitsPath)) return undefined;
    const variants: StoredVariant[] = [];
    for (const v of meta.variants ?? []) {
      const variantDir = resolve(dir, v.dir);
      const paths = { decoderPath: resolve(dir, v.decoder), fullLogitsPath: resolve(dir, v.fullLogits) };
      // A variant whose files are gone (deleted by hand) is not offered.
      if (![variantDir, paths.decoderPath, paths.fullLogitsPath].every((p) => isInside(dir, p)) || !existsSync(paths.decoderPath)) continue;
      const { dir: _dir, decoder: _decoder, fullLogits: _fullLogits, ...rest } = v;
      variants.push({ ...rest, dir: variantDir, ...paths });
    }
    return {
      id,
      dir,
      config: meta.config,
      dtype: meta.dtype,
      parameters: meta.parameters,
      sizeBytes: meta.sizeBytes,
      importedAt: meta.importedAt,
      name: meta.name,
      decoderPath,
      fullLogitsPath,
      variants,
      origin: meta.origin ?? { kind: 'folder', path: meta.source },
      weightsLinked: meta.weights === 'linked',
    };
  }

  private cleanIfStale(name: string): void {
    if (!name.startsWith('.tmp-') && !name.startsWith('.trash-')) return;
    const path = join(this.root, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Another process may be finishing or cleaning it right now.
    }
  }
}
