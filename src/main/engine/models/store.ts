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
import { buildGpt2Onnx } from '../onnx';
import type { Gpt2Checkpoint, Gpt2Config } from '../types';
import { EngineError } from '../types';
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

  private readModel(id: string): StoredModel | undefined {
    const dir = join(this.root, id);
    let meta: ModelMeta;
    try {
      meta = MetaSchema.parse(JSON.parse(readFileSync(join(dir, MODEL_META_FILE), 'utf8')));
    } catch {
      return undefined;
    }
    const decoderPath = resolve(dir, meta.decoder);
    const fullLogitsPath = resolve(dir, meta.fullLogits);
    if (meta.id !== id || !isInside(dir, decoderPath) || !isInside(dir, fullLogitsPath)) return undefined;
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
