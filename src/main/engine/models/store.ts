/**
 * The model store: <home>/models/<id>/ holds a checkpoint's files, its ONNX
 * graphs and inkwell-model.json. Imports are built in a .tmp-* folder and
 * renamed into place, and removals rename to .trash-* first, so a crash never
 * leaves a half-written or half-deleted model listed.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync, copyFileSync, constants as fsConstants, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync,
  readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ModelId, WeightDtype } from '../../../shared/api';
import { readCheckpoint, TOKENIZER_FILES, weightFileNames } from '../checkpoint';
import { gpt2TokenizerConfig, readVocabAndMerges, writeTokenizerJson } from '../checkpoint/tokenizer-files';
import { buildGpt2Onnx } from '../onnx';
import type { Gpt2Checkpoint, Gpt2Config } from '../types';
import { EngineError } from '../types';

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
}

/** Builds the ONNX graphs of a checkpoint into `outDir` (B's buildGpt2Onnx by default). */
export type OnnxBuilder = (ckpt: Gpt2Checkpoint, outDir: string) => Promise<{ decoderPath: string; fullLogitsPath: string }>;

/** Injectable collaborators (tests stub the graph builder). */
export interface ModelStoreOptions {
  readonly buildOnnx?: OnnxBuilder;
}

/** The metadata file written last into every stored model. */
export const MODEL_META_FILE = 'inkwell-model.json';

const STALE_MS = 60 * 60 * 1000;
const OTHER_FILES = ['config.json', 'generation_config.json'] as const;

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
  private readonly buildOnnx: OnnxBuilder;

  constructor(home: string, options: ModelStoreOptions = {}) {
    this.root = resolve(home, 'models');
    this.buildOnnx = options.buildOnnx ?? ((ckpt, outDir) => buildGpt2Onnx(ckpt, outDir));
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

  /** Validates the checkpoint in `srcDir`, copies it, builds its ONNX graphs and stores it as `id`. */
  async import(srcDir: string, id: string): Promise<StoredModel> {
    checkModelId(id);
    this.refuseExisting(id);
    const source = resolve(srcDir);
    const checked = await readCheckpoint(source);
    mkdirSync(this.root, { recursive: true });
    const tmp = mkdtempSync(join(this.root, '.tmp-'));
    try {
      await this.copyCheckpoint(source, tmp, checked.config.nPositions);
      const ckpt = await readCheckpoint(tmp);
      const onnxDir = join(tmp, 'onnx');
      const built = await this.buildOnnx(ckpt, onnxDir);
      for (const [label, path] of [['decoder', built.decoderPath], ['full-logits', built.fullLogitsPath]] as const) {
        if (!isInside(tmp, resolve(path)) || !existsSync(path)) {
          throw new EngineError('internal', `the ONNX builder did not write the ${label} graph inside ${onnxDir} (got ${path})`);
        }
      }
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
      };
      const metaJson = () => `${JSON.stringify(meta, null, 2)}\n`;
      // sizeBytes counts the metadata file too, whose length depends on sizeBytes: rewrite until it settles.
      writeFileSync(join(tmp, MODEL_META_FILE), metaJson());
      while (meta.sizeBytes !== folderSize(tmp)) {
        meta.sizeBytes = folderSize(tmp);
        writeFileSync(join(tmp, MODEL_META_FILE), metaJson());
      }
      fsyncTree(tmp);
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
      if (error instanceof EngineError) throw error;
      throw new EngineError('internal', `importing ${source} as ${JSON.stringify(id)} failed: ${(error as Error).message}`, { cause: error });
    }
    return this.get(id);
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

  private async copyCheckpoint(source: string, target: string, nPositions: number): Promise<void> {
    const names = [...await weightFileNames(source), ...OTHER_FILES, ...TOKENIZER_FILES];
    for (const name of names) {
      const from = join(source, name);
      if (existsSync(from)) copyFileSync(from, join(target, name), fsConstants.COPYFILE_FICLONE);
    }
    // transformers.js loads tokenizer.json + tokenizer_config.json only; legacy checkpoints ship vocab.json + merges.txt.
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
