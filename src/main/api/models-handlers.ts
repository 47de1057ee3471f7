/**
 * The Models area of the API: the catalog, the Hugging Face cache, stored models with their
 * variants and measured figures, memory estimates, and background tasks (downloads, imports,
 * conversions, loads) that run in the inference process and report on the `task` channel.
 * It also keeps the tokens/s the app measures in real generations, per model, precision and
 * device, in <home>/measured-speeds.json.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ApiError, type GenerationResult, type MethodName, type MethodParsedRequest, type MethodResponse, type ServerEvent } from '../../shared/api';
import type { DeviceRequest, Precision, PrecisionRequest } from '../../shared/devices';
import {
  MeasuredSpeed,
  formatBytes,
  type CatalogItem,
  type MemoryAvailability,
  type ModelDetails,
  type ModelVariantView,
  type TaskProgress,
  type TaskRequest,
  type TaskState,
} from '../../shared/models';
import type { InferenceResult, ModelTaskWork } from '../common/inference-protocol';
import { errorMessage, toApiError } from '../common/errors';
import {
  availableMemory,
  catalog,
  checkMemory,
  defaultPrecision,
  estimateMemory,
  hfHubCacheDir,
  hubConnectionFromEnv,
  tokenizerDir,
  type AvailableMemory,
  type HfCacheListing,
  type StoredModel,
  type StoredVariant,
  type VariantPrecision,
} from '../engine';
import { describeMachine, resolveImportFolder, type MachineContext } from './import-path';

/** The Models methods. */
export type ModelsMethod = Extract<MethodName, `models.${'catalog' | 'hfCache' | 'overview' | 'estimate' | 'startTask' | 'cancelTask' | 'tasks' | 'unload' | 'removeVariant' | 'pickFolder'}`>;
type ModelsHandlers = { [M in ModelsMethod]: (params: MethodParsedRequest<M>) => Promise<MethodResponse<M>> | MethodResponse<M> };

/** What the Models area needs of the model store (engine/models/store.ts ModelStore satisfies it). */
export interface ModelsAreaStore {
  readonly home: string;
  list(): StoredModel[];
  get(id: string): StoredModel;
  removeVariant(id: string, precision: VariantPrecision): void;
  listHfCache(cacheDir?: string): Promise<HfCacheListing>;
}

/** What the Models area needs of the inference client (InferenceClient satisfies it). */
export interface ModelsAreaInference {
  modelTask(work: ModelTaskWork, onProgress: (progress: TaskProgress) => void, signal?: AbortSignal): Promise<InferenceResult<'modelTask'>>;
  load(modelId: string, precision: PrecisionRequest, device: DeviceRequest, onProgress: (progress: TaskProgress) => void, signal?: AbortSignal): Promise<InferenceResult<'load'>>;
  loadedModels(): Promise<InferenceResult<'loadedModels'>['loaded']>;
  unload(modelId: string): Promise<void>;
}

/** Everything the Models area is built from. */
export interface ModelsAreaDeps {
  store: ModelsAreaStore;
  inference: ModelsAreaInference;
  machine: MachineContext;
  emit: (event: ServerEvent) => void;
  /** Native folder picker (desktop only); null when the user cancels. */
  pickFolder?: () => Promise<string | null>;
  /** Memory a new load can use (default: this machine's). */
  availableMemory?: () => AvailableMemory;
  /** Environment HF_ENDPOINT / HF_TOKEN / HF_HUB_CACHE are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** The Models area: its handlers, and the hooks the service calls. */
export interface ModelsArea {
  readonly handlers: ModelsHandlers;
  /** Records a finished generation's decode speed for the Models page. */
  recordGeneration(result: GenerationResult): void;
  /** True while a task works on `modelId` (removing it then is refused). */
  busyWith(modelId: string): boolean;
  /** Cancels running tasks and waits for them to end. */
  close(): Promise<void>;
}

/** Finished tasks are kept this long (and at most KEPT_TASKS of them), for a client that reconnects. */
const KEPT_TASK_MS = 10 * 60_000;
const KEPT_TASKS = 64;
/** Progress events a task sends at most per second (a download reports every chunk). */
const PROGRESS_EVENTS_PER_SECOND = 8;

const SpeedsFile = z.array(MeasuredSpeed);

interface RunningTask {
  state: TaskState;
  controller: AbortController;
  finished: Promise<void>;
  lastEmit: number;
  /** A held-back progress event's timer. */
  pending?: ReturnType<typeof setTimeout>;
}

/** Builds the Models area. */
export function createModelsArea(deps: ModelsAreaDeps): ModelsArea {
  const { store, inference, machine, emit } = deps;
  const log = deps.log ?? (() => {});
  const env = deps.env ?? process.env;
  const memoryNow = deps.availableMemory ?? (() => availableMemory());
  const tasks = new Map<string, RunningTask>();
  // Read on first use: the service is built before anything asks for the Models page.
  let speeds: MeasuredSpeed[] | undefined;
  const speedsPath = (): string => join(store.home, 'measured-speeds.json');
  const measuredSpeeds = (): MeasuredSpeed[] => (speeds ??= readSpeeds(speedsPath(), log));

  const memoryView = (): MemoryAvailability => {
    const { availableBytes, totalBytes, source } = memoryNow();
    return { availableBytes, totalBytes, source };
  };

  const publish = (task: RunningTask, force: boolean): void => {
    const wait = task.lastEmit + 1000 / PROGRESS_EVENTS_PER_SECOND - Date.now();
    if (!force && wait > 0) {
      // Held back, not dropped: the latest state goes out when the window ends.
      task.pending ??= setTimeout(() => {
        task.pending = undefined;
        if (task.state.status === 'running') publish(task, true);
      }, wait);
      return;
    }
    if (task.pending) clearTimeout(task.pending);
    task.pending = undefined;
    task.lastEmit = Date.now();
    emit({ channel: 'task', task: structuredClone(task.state) });
  };

  const forgetOldTasks = (): void => {
    const finished = [...tasks.values()].filter((t) => t.state.status !== 'running');
    const cutoff = Date.now() - KEPT_TASK_MS;
    finished.forEach((t, i) => {
      if (Date.parse(t.state.startedAt) < cutoff || finished.length - i > KEPT_TASKS) tasks.delete(t.state.taskId);
    });
  };

  const modelOf = (request: TaskRequest): string | undefined => ('id' in request ? request.id : undefined);

  const busyWith = (modelId: string): boolean =>
    [...tasks.values()].some((t) => t.state.status === 'running' && (t.state.modelId === modelId || modelOf(t.state.request) === modelId));

  async function runTask(task: RunningTask): Promise<void> {
    const request = task.state.request;
    const onProgress = (progress: TaskProgress): void => {
      task.state.progress = progress;
      publish(task, false);
    };
    try {
      if (request.kind === 'load') {
        const outcome = await inference.load(request.id, request.precision, request.device, onProgress, task.controller.signal);
        const memory = outcome.residentBytes !== null ? `, holding ${formatBytes(outcome.residentBytes)}` : '';
        const unloaded = outcome.unloaded.length > 0 ? `; unloaded ${outcome.unloaded.join(', ')} to make room` : '';
        const fallback = outcome.fallbackReason ? ` (${outcome.fallbackReason})` : '';
        task.state.message = outcome.alreadyLoaded
          ? `${outcome.modelId} was already loaded (${outcome.precision} on the ${outcome.device})`
          : `${outcome.modelId} is loaded: ${outcome.precision} on the ${outcome.device} in ${(outcome.loadMs / 1000).toFixed(1)} s${memory}${fallback}${unloaded}`;
        task.state.modelId = outcome.modelId;
      } else {
        const outcome = await inference.modelTask(toWork(request, machine), onProgress, task.controller.signal);
        task.state.message = outcome.message;
        if (outcome.modelId !== undefined) task.state.modelId = outcome.modelId;
      }
      task.state.status = 'done';
      task.state.progress = { phase: 'done', fraction: 1 };
    } catch (error) {
      const apiError = toApiError(error);
      task.state.status = apiError.kind === 'cancelled' || task.controller.signal.aborted ? 'cancelled' : 'error';
      task.state.error = apiError.message;
    }
    publish(task, true);
    forgetOldTasks();
  }

  const handlers: ModelsHandlers = {
    'models.catalog': () => {
      const stored = store.list();
      const connection = hubConnectionFromEnv(env);
      const items = catalog().map((entry): CatalogItem => {
        if (entry.kind === 'tokenizer') {
          return {
            kind: 'tokenizer', alias: entry.alias, repo: entry.repo, title: entry.title, description: entry.description, license: entry.license,
            parameters: null, downloadBytes: entry.downloadBytes, precisions: [], notice: entry.notice,
            installedAs: existsSync(tokenizerDir(store.home, entry.alias)) ? [entry.alias] : [],
          };
        }
        return {
          kind: 'model', alias: entry.alias, repo: entry.repo, title: entry.title, description: entry.description, license: entry.license,
          parameters: entry.parameters, downloadBytes: entry.downloadBytes, notice: entry.notice,
          precisions: (Object.entries(entry.precisions) as [Precision, (typeof entry.precisions)[Precision]][]).map(([precision, f]) => ({
            precision, weightBytes: f.weightBytes, diskBytes: f.diskBytes, memory: { ...f.memory }, bytesPerToken: f.bytesPerToken,
          })),
          installedAs: stored.filter((m) => ('repo' in m.origin && m.origin.repo === entry.repo) || m.id === entry.alias).map((m) => m.id),
        };
      });
      return { items, memory: memoryView(), endpoint: connection.endpoint, tokenSet: connection.token !== undefined };
    },

    'models.hfCache': async () => {
      const listing = await store.listHfCache(hfHubCacheDir(env));
      return {
        cacheDir: listing.cacheDir,
        exists: listing.exists,
        machine: describeMachine(machine),
        repos: listing.repos.map((r) => ({
          repo: r.repo, revision: r.revision, refs: [...r.refs], snapshotDir: r.snapshotDir, sizeBytes: r.sizeBytes, importable: r.importable,
          ...(r.reason !== undefined ? { reason: r.reason } : {}),
          ...(r.parameters !== undefined ? { parameters: r.parameters } : {}),
          importedAs: [...r.importedAs],
        })),
      };
    },

    'models.overview': async () => {
      let loaded: Awaited<ReturnType<ModelsAreaInference['loadedModels']>> = [];
      try {
        loaded = await inference.loadedModels();
      } catch (error) {
        // A dead engine holds nothing; the page still shows the models.
        log(`api: models.overview: ${errorMessage(error)}`);
      }
      return { models: store.list().map((m) => details(m, measuredSpeeds())), loaded, memory: memoryView() };
    },

    'models.estimate': ({ id, precision, batch, sequenceLength }) => {
      const model = store.get(id);
      const available: Precision[] = ['fp32', ...model.variants.map((v) => v.precision)];
      const chosen = precision === 'auto' ? defaultPrecision('cpu', available) : precision;
      const workload = { batch, sequenceLength: Math.min(sequenceLength ?? model.config.nPositions, model.config.nPositions) };
      const memory = memoryNow();
      const verdict = checkMemory(model.config, chosen, workload, memory, available.filter((p) => p !== 'fp16'));
      return {
        modelId: model.id,
        precision: chosen,
        estimate: { ...estimateMemory(model.config, chosen, workload) },
        memory: memoryView(),
        fits: verdict.fits,
        ...(verdict.warning !== undefined ? { warning: verdict.warning } : {}),
      };
    },

    'models.startTask': (request) => {
      if (request.kind === 'folder-import') resolveImportFolder(request.path, machine);
      if (request.kind === 'convert' || request.kind === 'load') store.get(request.id);
      const target = modelOf(request);
      if (target !== undefined && request.kind !== 'load' && busyWith(target)) {
        throw new ApiError('busy', `${target} is busy with another task; wait for it to finish or cancel it`);
      }
      const duplicate = [...tasks.values()].find((t) => t.state.status === 'running' && JSON.stringify(t.state.request) === JSON.stringify(request));
      if (duplicate) return structuredClone(duplicate.state);
      const task: RunningTask = {
        state: { taskId: randomUUID(), request, title: describeTask(request), status: 'running', progress: null, startedAt: new Date().toISOString() },
        controller: new AbortController(),
        finished: Promise.resolve(),
        lastEmit: 0,
      };
      tasks.set(task.state.taskId, task);
      publish(task, true);
      task.finished = runTask(task).catch((error: unknown) => log(`api: task ${task.state.taskId} failed unexpectedly: ${errorMessage(error)}`));
      return structuredClone(task.state);
    },

    'models.cancelTask': ({ taskId }) => {
      const task = tasks.get(taskId);
      if (!task || task.state.status !== 'running') return { cancelled: false };
      task.controller.abort();
      return { cancelled: true };
    },

    'models.tasks': () => {
      forgetOldTasks();
      return [...tasks.values()].map((t) => structuredClone(t.state));
    },

    'models.unload': async ({ id }) => {
      store.get(id);
      const before = await inference.loadedModels().catch(() => []);
      await inference.unload(id);
      return { unloaded: before.some((l) => l.modelId === id) };
    },

    'models.removeVariant': async ({ id, precision }) => {
      if (busyWith(id)) throw new ApiError('busy', `${id} is busy with another task; wait for it to finish or cancel it`);
      // The variant's files may be open in a loaded decoder.
      await inference.unload(id);
      store.removeVariant(id, precision);
      return details(store.get(id), measuredSpeeds());
    },

    'models.pickFolder': async () => {
      if (!deps.pickFolder) throw new ApiError('refused', 'the folder picker exists only in the desktop app: type the folder path instead');
      const path = await deps.pickFolder();
      return path === null ? null : { path };
    },
  };

  return {
    handlers,
    busyWith,
    recordGeneration(result) {
      const tokens = result.sequences.reduce((sum, s) => sum + s.tokenIds.length, 0);
      const rate = result.timings.tokensPerSecond;
      // A remote engine's speed is its server's, not this machine's.
      if (tokens === 0 || !Number.isFinite(rate) || rate <= 0 || result.device === 'remote' || result.precision === null) return;
      speeds = addSpeed(measuredSpeeds(), { modelId: result.modelId, precision: result.precision, device: result.device, tokensPerSecond: rate });
      writeSpeeds(speedsPath(), speeds, log);
    },
    async close() {
      const running = [...tasks.values()].filter((t) => t.state.status === 'running');
      for (const task of running) task.controller.abort();
      await Promise.all(running.map((t) => t.finished));
    },
  };
}

/** The work a task request asks of the inference process, with a folder resolved on the back end's machine. */
function toWork(request: Exclude<TaskRequest, { kind: 'load' }>, machine: MachineContext): ModelTaskWork {
  switch (request.kind) {
    case 'pull':
    case 'cache-import':
      return { kind: request.kind, name: request.name.trim(), ...(request.id !== undefined ? { id: request.id } : {}) };
    case 'folder-import':
      return { kind: 'folder-import', srcDir: resolveImportFolder(request.path, machine), id: request.id };
    case 'convert':
      return { kind: 'convert', id: request.id, precision: request.precision };
  }
}

/** The line a task is shown with. */
export function describeTask(request: TaskRequest): string {
  switch (request.kind) {
    case 'pull':
      return `Downloading ${request.name}`;
    case 'cache-import':
      return `Importing ${request.name} from the Hugging Face cache`;
    case 'folder-import':
      return `Importing ${request.path} as ${request.id}`;
    case 'convert':
      return `Converting ${request.id} to ${request.precision}`;
    case 'load':
      return `Loading ${request.id}${request.precision === 'auto' ? '' : ` (${request.precision})`}`;
  }
}

/** A stored model as the Models page shows it. */
export function details(model: StoredModel, speeds: readonly MeasuredSpeed[]): ModelDetails {
  const workload = { batch: 1, sequenceLength: model.config.nPositions };
  const fp32: ModelVariantView = {
    precision: 'fp32',
    sizeBytes: model.sizeBytes - model.variants.reduce((sum, v) => sum + v.sizeBytes, 0),
    createdAt: model.importedAt,
    format: `${model.dtype} checkpoint, MatMul`,
    quality: null,
    speed: null,
    memory: { ...estimateMemory(model.config, 'fp32', workload) },
  };
  return {
    id: model.id,
    name: model.name,
    parameters: model.parameters,
    nLayer: model.config.nLayer,
    nEmbd: model.config.nEmbd,
    nHead: model.config.nHead,
    nPositions: model.config.nPositions,
    sizeBytes: model.sizeBytes,
    weightsLinked: model.weightsLinked,
    importedAt: model.importedAt,
    origin: { ...model.origin },
    variants: [fp32, ...model.variants.map((v) => variantView(model, v))],
    measured: speeds.filter((s) => s.modelId === model.id),
  };
}

function variantView(model: StoredModel, v: StoredVariant): ModelVariantView {
  const f = v.format;
  const format = f.matmul === 'MatMulNBits' ? `MatMulNBits ${f.bits}-bit, block ${f.blockSize ?? '?'}${f.symmetric ? ', symmetric' : ''}` : `${f.bits}-bit floats, fp32 residual and LayerNorm`;
  return {
    precision: v.precision,
    sizeBytes: v.sizeBytes,
    createdAt: v.createdAt,
    format,
    quality: v.quality ? { ...v.quality } : null,
    speed: v.speed ? { device: v.speed.device, threads: v.speed.threads, decodeMsPerStep: v.speed.decodeMsPerStep, fp32DecodeMsPerStep: v.speed.fp32DecodeMsPerStep } : null,
    memory: { ...estimateMemory(model.config, v.precision, { batch: 1, sequenceLength: model.config.nPositions }) },
  };
}

/** `speeds` with one more measured generation folded into its (model, precision, device) mean. */
export function addSpeed(speeds: readonly MeasuredSpeed[], sample: Pick<MeasuredSpeed, 'modelId' | 'precision' | 'device' | 'tokensPerSecond'>): MeasuredSpeed[] {
  const same = (s: MeasuredSpeed): boolean => s.modelId === sample.modelId && s.precision === sample.precision && s.device === sample.device;
  const old = speeds.find(same);
  const generations = (old?.generations ?? 0) + 1;
  const tokensPerSecond = old ? old.tokensPerSecond + (sample.tokensPerSecond - old.tokensPerSecond) / generations : sample.tokensPerSecond;
  return [...speeds.filter((s) => !same(s)), { ...sample, tokensPerSecond, generations, lastAt: new Date().toISOString() }];
}

function readSpeeds(path: string, log: (line: string) => void): MeasuredSpeed[] {
  if (!existsSync(path)) return [];
  try {
    return SpeedsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (error) {
    // Figures, not data: a damaged file is started over.
    log(`api: ${path} could not be read (${errorMessage(error)}); measured speeds start over`);
    return [];
  }
}

function writeSpeeds(path: string, speeds: readonly MeasuredSpeed[], log: (line: string) => void): void {
  try {
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(speeds, null, 1)}\n`);
    renameSync(tmp, path);
  } catch (error) {
    log(`api: could not save measured speeds to ${path}: ${errorMessage(error)}`);
  }
}
