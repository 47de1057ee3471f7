/**
 * The demo back end's Models area: a catalog of the two GPT-2 sizes with their footprints, an
 * empty Hugging Face cache, and tasks (pull, convert, load) that report progress over a few
 * hundred milliseconds on the `task` channel, as the real back end does over minutes.
 */
import { ApiError, type MethodName, type MethodParsedRequest, type MethodResponse, type ModelSummary, type ServerEvent } from '../../../shared/api';
import type { Precision } from '../../../shared/devices';
import type { CatalogItem, MemoryAvailability, ModelDetails, ModelVariantView, TaskRequest, TaskState } from '../../../shared/models';

type ModelsMethod = Extract<MethodName, `models.${'catalog' | 'hfCache' | 'overview' | 'estimate' | 'startTask' | 'cancelTask' | 'tasks' | 'unload' | 'removeVariant' | 'pickFolder'}`>;
type MockModelsHandlers = { [M in ModelsMethod]: (params: MethodParsedRequest<M>) => MethodResponse<M> | Promise<MethodResponse<M>> };

/** What the mock's Models area reads and changes of the mock back end. */
export interface MockModelsDeps {
  models: () => ModelSummary[];
  addModel: (model: ModelSummary) => void;
  loaded: () => Map<string, 'cpu'>;
  emit: (event: ServerEvent) => void;
  /** Milliseconds between progress steps. */
  stepMs: number;
}

const GIB = 1024 ** 3;
const memory: MemoryAvailability = { availableBytes: 12 * GIB, totalBytes: 16 * GIB, source: 'MemAvailable' };
const BYTES_PER_PARAMETER: Record<Precision, number> = { fp32: 4, fp16: 2, int8: 1.1, int4: 0.6 };

function footprint(parameters: number, precision: Precision): CatalogItem['precisions'][number] {
  const weightBytes = Math.round(parameters * BYTES_PER_PARAMETER[precision]);
  const runtimeBytes = 317 * 1024 ** 2;
  return {
    precision,
    weightBytes,
    diskBytes: parameters * 4 + (precision === 'fp32' ? 0 : weightBytes),
    memory: { weightsBytes: weightBytes, kvCacheBytes: 150 * 1024 ** 2, workspaceBytes: 90 * 1024 ** 2, runtimeBytes, totalBytes: weightBytes + runtimeBytes + 240 * 1024 ** 2 },
    bytesPerToken: weightBytes,
  };
}

function catalogItem(alias: string, repo: string, title: string, parameters: number): CatalogItem {
  return {
    kind: 'model', alias, repo, title, description: `OpenAI's GPT-2, ${title}.`, license: 'MIT', parameters, downloadBytes: parameters * 4,
    precisions: (['fp32', 'fp16', 'int8', 'int4'] as const).map((p) => footprint(parameters, p)),
    notice: `Downloads the model's weights from the Hugging Face Hub (${repo}).`, installedAs: [],
  };
}

const CATALOG: readonly CatalogItem[] = [
  catalogItem('gpt2', 'openai-community/gpt2', 'GPT-2 (124M)', 124_439_808),
  catalogItem('gpt2-large', 'openai-community/gpt2-large', 'GPT-2 Large (774M)', 774_030_080),
];

/** Builds the mock's Models handlers. */
export function createMockModels(deps: MockModelsDeps): MockModelsHandlers {
  const tasks = new Map<string, { state: TaskState; cancelled: boolean }>();
  const variants = new Map<string, Precision[]>();
  let nextTask = 1;

  const details = (model: ModelSummary): ModelDetails => ({
    id: model.id, name: model.name, parameters: model.parameters, nLayer: model.nLayer, nEmbd: model.nEmbd, nHead: model.nHead, nPositions: model.nPositions,
    sizeBytes: model.sizeBytes, weightsLinked: true, importedAt: model.importedAt, origin: { kind: 'hub', repo: `openai-community/${model.id}`, endpoint: 'https://huggingface.co' },
    variants: (['fp32', ...(variants.get(model.id) ?? [])] as Precision[]).map((precision): ModelVariantView => ({
      precision, sizeBytes: footprint(model.parameters, precision).weightBytes, createdAt: model.importedAt,
      format: precision === 'fp32' ? `${model.dtype} checkpoint, MatMul` : precision === 'fp16' ? '16-bit floats, fp32 residual and LayerNorm' : `MatMulNBits ${precision === 'int8' ? 8 : 4}-bit, block 32`,
      quality: precision === 'fp32' ? null : { sample: 'Brown corpus', positions: 2040, meanKl: precision === 'int4' ? 0.021 : precision === 'int8' ? 0.0009 : 0.00002, maxKl: 0.2, greedyAgreement: precision === 'int4' ? 0.93 : 0.99, perplexity: 31.2, fp32Perplexity: 30.9 },
      speed: precision === 'fp32' ? null : { device: 'cpu', threads: 2, decodeMsPerStep: precision === 'int4' ? 6.1 : 7.4, fp32DecodeMsPerStep: 18.9 },
      memory: footprint(model.parameters, precision).memory,
    })),
    measured: [],
  });

  const run = (request: TaskRequest, finish: () => string): TaskState => {
    const state: TaskState = { taskId: `task-${nextTask++}`, request, title: `${request.kind} ${'name' in request ? request.name : request.id}`, status: 'running', progress: { phase: 'starting', fraction: 0 }, startedAt: new Date().toISOString() };
    const task = { state, cancelled: false };
    tasks.set(state.taskId, task);
    let step = 0;
    const tick = (): void => {
      if (task.cancelled) {
        task.state = { ...task.state, status: 'cancelled', error: 'cancelled' };
      } else if (step < 5) {
        step += 1;
        task.state = { ...task.state, progress: { phase: request.kind === 'pull' ? 'downloading' : 'working', fraction: step / 5, bytesDone: step * 100 * 1024 ** 2, bytesTotal: 500 * 1024 ** 2, bytesPerSecond: 40 * 1024 ** 2, secondsLeft: 5 - step } };
        deps.emit({ channel: 'task', task: task.state });
        setTimeout(tick, deps.stepMs);
        return;
      } else {
        task.state = { ...task.state, status: 'done', progress: { phase: 'done', fraction: 1 }, message: finish() };
      }
      deps.emit({ channel: 'task', task: task.state });
    };
    setTimeout(tick, deps.stepMs);
    return state;
  };

  const find = (id: string): ModelSummary => {
    const model = deps.models().find((m) => m.id === id);
    if (!model) throw new ApiError('not_found', `no model with id "${id}"`);
    return model;
  };

  return {
    'models.catalog': () => ({
      items: CATALOG.map((item) => ({ ...item, installedAs: deps.models().filter((m) => m.id === item.alias).map((m) => m.id) })),
      memory, endpoint: 'https://huggingface.co', tokenSet: false,
    }),
    'models.hfCache': () => ({ cacheDir: '/home/writer/.cache/huggingface/hub', exists: false, repos: [], machine: 'the computer running inkwell serve (demo)' }),
    'models.overview': () => ({
      models: deps.models().map(details),
      loaded: [...deps.loaded().keys()].map((modelId) => ({ modelId, device: 'cpu' as const, precision: 'fp32' as const, residentBytes: 600 * 1024 ** 2 })),
      memory,
    }),
    'models.estimate': ({ id, precision }) => {
      const model = find(id);
      const chosen: Precision = precision === 'auto' ? 'fp32' : precision;
      const estimate = footprint(model.parameters, chosen).memory;
      return { modelId: id, precision: chosen, estimate, memory, fits: estimate.totalBytes <= memory.availableBytes };
    },
    'models.startTask': (request) => {
      switch (request.kind) {
        case 'pull': {
          const entry = CATALOG.find((c) => c.alias === request.name || c.repo === request.name);
          const id = request.id ?? entry?.alias ?? request.name.split('/').pop() ?? request.name;
          return run(request, () => {
            deps.addModel({ id, name: `${id} (124M)`, nLayer: 12, nEmbd: 768, nHead: 12, nPositions: 1024, vocabSize: 50257, parameters: entry?.parameters ?? 124_439_808, dtype: 'F32', sizeBytes: (entry?.parameters ?? 124_439_808) * 4, importedAt: new Date().toISOString() });
            return `${id} is installed`;
          });
        }
        case 'convert':
          find(request.id);
          return run(request, () => {
            variants.set(request.id, [...new Set([...(variants.get(request.id) ?? []), request.precision])]);
            return `the ${request.precision} variant of ${request.id} is ready`;
          });
        case 'load':
          find(request.id);
          return run(request, () => {
            deps.loaded().set(request.id, 'cpu');
            return `${request.id} is loaded`;
          });
        default:
          throw new ApiError('refused', 'the demo back end has no files to import');
      }
    },
    'models.cancelTask': ({ taskId }) => {
      const task = tasks.get(taskId);
      if (!task || task.state.status !== 'running') return { cancelled: false };
      task.cancelled = true;
      return { cancelled: true };
    },
    'models.tasks': () => [...tasks.values()].map((t) => t.state),
    'models.unload': ({ id }) => ({ unloaded: deps.loaded().delete(id) }),
    'models.removeVariant': ({ id, precision }) => {
      variants.set(id, (variants.get(id) ?? []).filter((p) => p !== precision));
      return details(find(id));
    },
    'models.pickFolder': () => {
      throw new ApiError('refused', 'the folder picker exists only in the desktop app: type the folder path instead');
    },
  };
}
