/**
 * The Models area of the contract: the catalog, the Hugging Face cache, stored models with their
 * precision variants and measured figures, memory estimates, and the background tasks (downloads,
 * cache imports, conversions, model loads) whose progress the `task` ServerEvent channel carries.
 * Also the one byte formatter every surface uses (CLI, API messages, UI), so that sizes read the
 * same everywhere.
 *
 * Pure TypeScript + zod: no Electron, Node or DOM imports (enforced by lint).
 */
import { z } from 'zod';
import { DeviceName, DeviceRequest, Precision, PrecisionRequest, VariantPrecision } from './devices';

/** "1.2 GiB": binary units with one decimal, as every Inkwell surface writes sizes. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Memory a model needs by part (the engine's estimate for one sequence over the context window). */
export const MemoryEstimateView = z.strictObject({
  weightsBytes: z.number(),
  kvCacheBytes: z.number(),
  workspaceBytes: z.number(),
  runtimeBytes: z.number(),
  totalBytes: z.number(),
});
export type MemoryEstimateView = z.infer<typeof MemoryEstimateView>;

/** What one precision of a model takes: on disk, in memory, and read per token. */
export const PrecisionFootprintView = z.strictObject({
  precision: Precision,
  weightBytes: z.number(),
  diskBytes: z.number(),
  memory: MemoryEstimateView,
  bytesPerToken: z.number(),
});
export type PrecisionFootprintView = z.infer<typeof PrecisionFootprintView>;

/** One entry of the catalog as the Models page shows it. */
export const CatalogItem = z.strictObject({
  kind: z.enum(['model', 'tokenizer']),
  alias: z.string(),
  repo: z.string(),
  title: z.string(),
  description: z.string(),
  license: z.string(),
  /** Null for a tokenizer. */
  parameters: z.number().nullable(),
  downloadBytes: z.number(),
  /** Empty for a tokenizer. */
  precisions: z.array(PrecisionFootprintView),
  notice: z.string(),
  /** Stored model ids pulled from this repository (for a tokenizer: [alias] once installed). */
  installedAs: z.array(z.string()),
});
export type CatalogItem = z.infer<typeof CatalogItem>;

/** Memory this machine can give a new load, and where the figure comes from. */
export const MemoryAvailability = z.strictObject({
  availableBytes: z.number(),
  totalBytes: z.number(),
  source: z.string(),
});
export type MemoryAvailability = z.infer<typeof MemoryAvailability>;

/** The catalog and the memory it is judged against. */
export const CatalogView = z.strictObject({
  items: z.array(CatalogItem),
  memory: MemoryAvailability,
  /** The Hub endpoint pulls go to (HF_ENDPOINT, else the public Hub). */
  endpoint: z.string(),
  /** Whether HF_TOKEN is set (its value never crosses the boundary). */
  tokenSet: z.boolean(),
});
export type CatalogView = z.infer<typeof CatalogView>;

/** A repository in the local Hugging Face cache. */
export const CachedRepoView = z.strictObject({
  repo: z.string(),
  revision: z.string(),
  refs: z.array(z.string()),
  snapshotDir: z.string(),
  sizeBytes: z.number(),
  importable: z.boolean(),
  reason: z.string().optional(),
  parameters: z.number().optional(),
  importedAs: z.array(z.string()),
});
export type CachedRepoView = z.infer<typeof CachedRepoView>;

/** The Hugging Face cache folder and what it holds. */
export const HfCacheView = z.strictObject({
  cacheDir: z.string(),
  exists: z.boolean(),
  repos: z.array(CachedRepoView),
  /** Which machine the folder is on ("the computer running inkwell serve (host)"). */
  machine: z.string(),
});
export type HfCacheView = z.infer<typeof HfCacheView>;

/** A variant's quality cost against fp32 over the built-in English sample. */
export const VariantQuality = z.strictObject({
  sample: z.string(),
  positions: z.number(),
  meanKl: z.number(),
  maxKl: z.number(),
  greedyAgreement: z.number(),
  perplexity: z.number(),
  fp32Perplexity: z.number(),
});
export type VariantQuality = z.infer<typeof VariantQuality>;

/** A variant's decode speed beside fp32's, measured when it was made. */
export const VariantSpeed = z.strictObject({
  device: DeviceName,
  threads: z.number(),
  decodeMsPerStep: z.number(),
  fp32DecodeMsPerStep: z.number(),
});
export type VariantSpeed = z.infer<typeof VariantSpeed>;

/** One precision a stored model can run in. */
export const ModelVariantView = z.strictObject({
  precision: Precision,
  /** Bytes of this precision's own files (fp32: the whole model folder). */
  sizeBytes: z.number(),
  createdAt: z.string(),
  /** e.g. "MatMulNBits 4-bit, block 32". */
  format: z.string(),
  quality: VariantQuality.nullable(),
  speed: VariantSpeed.nullable(),
  /** Estimated memory for one sequence over the whole context window. */
  memory: MemoryEstimateView,
});
export type ModelVariantView = z.infer<typeof ModelVariantView>;

/** Tokens/s the app measured in real generations, per model, precision and device. */
export const MeasuredSpeed = z.strictObject({
  modelId: z.string(),
  precision: Precision,
  device: DeviceName,
  /** Mean decode tokens/s of the recorded generations. */
  tokensPerSecond: z.number(),
  generations: z.int().min(1),
  lastAt: z.string(),
});
export type MeasuredSpeed = z.infer<typeof MeasuredSpeed>;

/** Where a stored model came from. */
export const ModelOriginView = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('folder'), path: z.string() }),
  z.strictObject({ kind: z.literal('hf-cache'), repo: z.string(), revision: z.string(), path: z.string() }),
  z.strictObject({ kind: z.literal('hub'), repo: z.string(), revision: z.string().optional(), endpoint: z.string() }),
]);
export type ModelOriginView = z.infer<typeof ModelOriginView>;

/** A stored model with everything the Models page shows of it. */
export const ModelDetails = z.strictObject({
  id: z.string(),
  name: z.string(),
  parameters: z.number(),
  nLayer: z.int(),
  nEmbd: z.int(),
  nHead: z.int(),
  nPositions: z.int(),
  /** Bytes of the model's folder (weights, graphs, every variant). */
  sizeBytes: z.number(),
  /** True when the weights are hard links to a download or HF-cache blob (no second copy). */
  weightsLinked: z.boolean(),
  importedAt: z.string(),
  origin: ModelOriginView,
  /** fp32 first, then the variants made. */
  variants: z.array(ModelVariantView),
  measured: z.array(MeasuredSpeed),
});
export type ModelDetails = z.infer<typeof ModelDetails>;

/** A decoder the inference process holds, with the memory it took. */
export const LoadedModelView = z.strictObject({
  modelId: z.string(),
  device: DeviceName,
  precision: Precision,
  /** Resident memory the process grew by while it opened; null when unknown. */
  residentBytes: z.number().nullable(),
});
export type LoadedModelView = z.infer<typeof LoadedModelView>;

/** Stored models, what is loaded, and the memory the machine has for more. */
export const ModelsOverview = z.strictObject({
  models: z.array(ModelDetails),
  loaded: z.array(LoadedModelView),
  memory: MemoryAvailability,
});
export type ModelsOverview = z.infer<typeof ModelsOverview>;

/** The estimate of one load and whether it fits. */
export const LoadEstimate = z.strictObject({
  modelId: z.string(),
  precision: Precision,
  estimate: MemoryEstimateView,
  memory: MemoryAvailability,
  fits: z.boolean(),
  /** Set when it does not fit: needed, free, and which precisions would fit. */
  warning: z.string().optional(),
});
export type LoadEstimate = z.infer<typeof LoadEstimate>;

/** What Engine.load did. */
export const LoadResult = z.strictObject({
  modelId: z.string(),
  device: DeviceName,
  precision: Precision,
  fallbackReason: z.string().optional(),
  residentBytes: z.number().nullable(),
  loadMs: z.number(),
  alreadyLoaded: z.boolean(),
  unloaded: z.array(z.string()),
});
export type LoadResult = z.infer<typeof LoadResult>;

// ---------------------------------------------------------------- background tasks

/** What a background task does. */
export const TaskRequest = z.discriminatedUnion('kind', [
  /** Downloads a catalog alias or an owner/name repository from the Hub and imports it. */
  z.strictObject({ kind: z.literal('pull'), name: z.string().min(1).max(200), id: z.string().min(1).max(64).optional() }),
  /** Imports a repository found in the local Hugging Face cache (weights hard-linked, not copied). */
  z.strictObject({ kind: z.literal('cache-import'), name: z.string().min(1).max(200), id: z.string().min(1).max(64).optional() }),
  /** Imports a checkpoint folder (resolved on the back end's machine). */
  z.strictObject({ kind: z.literal('folder-import'), path: z.string().min(1).max(4096), id: z.string().min(1).max(64) }),
  /** Makes (or remakes) a precision variant, measuring its quality and speed against fp32. */
  z.strictObject({ kind: z.literal('convert'), id: z.string().min(1).max(64), precision: VariantPrecision }),
  /** Opens a model's decoder so that the first generation does not wait for it. */
  z.strictObject({ kind: z.literal('load'), id: z.string().min(1).max(64), precision: PrecisionRequest.default('auto'), device: DeviceRequest.default('auto') }),
]);
export type TaskRequest = z.infer<typeof TaskRequest>;
export type TaskRequestInput = z.input<typeof TaskRequest>;

/** Where a task is: a phase, a fraction, bytes and speed where it moves bytes. */
export const TaskProgress = z.strictObject({
  /** e.g. "listing", "downloading", "importing: building", "weights", "quality", "reading", "session". */
  phase: z.string(),
  /** 0 … 1 of the whole task, or null when unknown (listing a repository). */
  fraction: z.number().min(0).max(1).nullable(),
  bytesDone: z.number().optional(),
  bytesTotal: z.number().optional(),
  bytesPerSecond: z.number().optional(),
  secondsLeft: z.number().optional(),
  file: z.string().optional(),
});
export type TaskProgress = z.infer<typeof TaskProgress>;

/** A task as the UI sees it. */
export const TaskState = z.strictObject({
  taskId: z.string(),
  request: TaskRequest,
  /** A line the UI shows: "Downloading gpt2", "Converting gpt2 to int4". */
  title: z.string(),
  status: z.enum(['running', 'done', 'error', 'cancelled']),
  progress: TaskProgress.nullable(),
  startedAt: z.string(),
  /** Set when done: what it made ("gpt2 installed (474.7 MiB)"), and a notice such as a fallback. */
  message: z.string().optional(),
  error: z.string().optional(),
  /** The stored model the task made or changed. */
  modelId: z.string().optional(),
});
export type TaskState = z.infer<typeof TaskState>;

/** Per-model default generation parameters (any subset; the rest follow the global defaults). */
export const ModelDefaultParams = z.strictObject({
  maxNewTokens: z.int().min(1).max(1024).optional(),
  numReturnSequences: z.int().min(1).max(8).optional(),
  temperature: z.number().gt(0).max(10).optional(),
  topK: z.int().min(0).max(1_000_000).optional(),
  topP: z.number().gt(0).max(1).optional(),
  repetitionPenalty: z.number().min(0.01).max(10).optional(),
  precision: PrecisionRequest.optional(),
  device: DeviceRequest.optional(),
});
export type ModelDefaultParams = z.infer<typeof ModelDefaultParams>;
