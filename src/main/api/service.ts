/**
 * The API contract's implementation, shared by both transports (Electron IPC
 * and serve mode's HTTP + WebSocket). `handle` validates every request with
 * the contract's schemas before anything runs, routes it, and lets nothing
 * but an ApiError out; `subscribe` delivers the ServerEvents (generation
 * streams, engine status).
 */
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  parseRequest,
  type AppInfo,
  type Candidate,
  type DeviceStatus,
  type EngineStatus,
  type GenerationEvent,
  type GenerationOutcome,
  type GenerationResult,
  type GenerationStartInfo,
  type MethodName,
  type MethodParsedRequest,
  type MethodResponse,
  type ServerEvent,
} from '../../shared/api';
import type { InferenceArgs, InferenceResult } from '../common/inference-protocol';
import { AdmissionQueue, defaultAdmissionLimits, estimateGenerationCost, type Admission } from '../inference/admission';
import type { GenerateHandlers, InferenceStateChange } from '../inference/client';
import { isCudaProviderInstalled } from '../engine';
import { errorMessage, toApiError } from '../common/errors';
import { GenerationStates } from '../../shared/generation-state';
import { createCompareHandlers, type CompareInferencePort } from './compare-handlers';
import { createBatchHandlers, type BatchHandlerDeps } from './batch-handlers';
import type { HistoryPort } from './history-port';
import { describeMachine, resolveImportFolder, thisMachine, type MachineContext } from './import-path';
import { toModelSummary, type StoredModelFields } from '../common/model-summary';
import { createModelsArea, type ModelsAreaInference, type ModelsAreaStore } from './models-handlers';

import { createInspectHandlers, type InspectInferencePort } from './inspect-handlers';
import { createRemoteArea, isRemoteGeneration, type RemoteArea } from './remote-handlers';
import { createRemoteKeyStore } from './remote-keys';

/** What the service needs of the inference client (InferenceClient satisfies it). */
export interface InferencePort extends ModelsAreaInference, InspectInferencePort, CompareInferencePort {
  readonly state: InferenceStateChange;
  onStateChange(listener: (change: InferenceStateChange) => void): () => void;
  generate(args: InferenceArgs<'generate'>, handlers: GenerateHandlers, signal?: AbortSignal): Promise<InferenceResult<'generate'>>;
  tokenize(modelId: string, text: string): Promise<InferenceResult<'tokenize'>>;
  importModel(srcDir: string, id: string): Promise<InferenceResult<'importModel'>>;
  unload(modelId: string): Promise<void>;
  status(): Promise<InferenceResult<'status'>>;
  probe(): Promise<DeviceStatus[]>;
}

/** What the service needs of the model store (engine/models/store.ts ModelStore satisfies it). */
export interface ModelsPort {
  list(): StoredModelFields[];
  get(id: string): StoredModelFields;
  remove(id: string): void;
}

/** Everything the service is built from; the desktop app adds the native file dialogs. */
export interface ApiServiceDeps {
  history: HistoryPort;
  inference: InferencePort;
  models: ModelsPort;
  appInfo: AppInfo;
  /** Native open dialog (desktop only); null when the user cancels. */
  openFile?: () => Promise<{ name: string; content: string } | null>;
  /** Native save dialog (desktop only); the saved path, or null when cancelled. */
  saveFile?: (suggestedName: string, content: string) => Promise<{ path: string } | null>;
  /** The model store with variants, origins and the HF cache (the Models page); usually the same ModelStore as `models`. */
  modelStore: ModelsAreaStore;
  /** Native folder picker (desktop only); null when the user cancels. */
  pickFolder?: () => Promise<string | null>;
  /** The Batch page's native dialogs and file manager (desktop only). */
  batchFiles?: Pick<BatchHandlerDeps, 'pickPrompts' | 'pickResults' | 'reveal'>;
  /** Where import paths are resolved (defaults to this machine, described by appInfo.transport). */
  machine?: MachineContext;
  /** The bound on generation work (defaults to defaultAdmissionLimits() for this machine). */
  admission?: AdmissionQueue;
  /** Remote engines (defaults to Settings' engines with keys from INKWELL_REMOTE_KEY_<NAME> variables only). */
  remote?: RemoteArea;
  /** Defaults to looking for the CUDA provider library in onnxruntime-node. */
  cudaInstalled?: () => boolean;
  log?: (line: string) => void;
}

/** The transport-neutral API: one call entry point and one event stream. */
export interface ApiService {
  /** Runs `method`; rejects only with ApiError. */
  handle(method: string, payload: unknown): Promise<unknown>;
  /** Delivers every ServerEvent to `listener`; returns an unsubscribe function. */
  subscribe(listener: (event: ServerEvent) => void): () => void;
  /** Cancels running generations and waits for them to be saved; later calls are refused. */
  close(): Promise<void>;
}

/** One handler per method of the contract, typed from it. */
export type Handlers = { [M in MethodName]: (params: MethodParsedRequest<M>) => Promise<MethodResponse<M>> | MethodResponse<M> };

interface RunningGeneration {
  controller: AbortController;
  finished: Promise<void>;
}

/** Builds the API service over the history store, the inference client and the model store. */
export function createApiService(deps: ApiServiceDeps): ApiService {
  const { history, inference, models } = deps;
  const log = deps.log ?? (() => {});
  const cudaInstalled = deps.cudaInstalled ?? isCudaProviderInstalled;
  const listeners = new Set<(event: ServerEvent) => void>();
  const running = new Map<string, RunningGeneration>();
  const admission = deps.admission ?? new AdmissionQueue(defaultAdmissionLimits());
  const machine = deps.machine ?? thisMachine(deps.appInfo.transport);
  const remote = deps.remote ?? createRemoteArea({ settings: history.settings, keys: createRemoteKeyStore({ env: process.env }) });
  let knownDevices: DeviceStatus[] = [];
  let closed = false;

  const emit = (event: ServerEvent): void => {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        log(`api: an event listener threw: ${errorMessage(error)}`);
      }
    }
  };
  // Every generation event is folded into `generations` before it is sent, so generate.get always
  // knows at least what a client was streamed.
  const generations = new GenerationStates();
  const emitGeneration = (event: GenerationEvent): void => {
    generations.record(event);
    emit({ channel: 'generation', event });
  };

  const engineStatus = (loaded: EngineStatus['loaded'] = []): EngineStatus => {
    const { state, message } = inference.state;
    return { state, ...(message !== undefined && state === 'crashed' ? { message } : {}), loaded, devices: knownDevices, cudaInstalled: cudaInstalled() };
  };
  const modelsArea = createModelsArea({
    store: deps.modelStore,
    inference,
    machine,
    emit: (event) => emit(event),
    ...(deps.pickFolder ? { pickFolder: deps.pickFolder } : {}),
    log,
  });
  const stopWatchingEngine = inference.onStateChange(() => emit({ channel: 'engine', status: engineStatus() }));
  const compare = createCompareHandlers({ history, inference, models, remote, admission, emit: (event) => emit({ channel: 'compare', event }), log });

  async function runGeneration(generationId: string, request: MethodParsedRequest<'generate.start'>, signal: AbortSignal, admitted: Admission): Promise<void> {
    try {
      await admitted.admitted;
    } catch (error) {
      emitGeneration({ type: 'error', generationId, error: toApiError(error).toJSON() });
      return;
    }
    try {
      await generateAndSave(generationId, request, signal);
    } finally {
      admitted.release();
    }
  }

  async function generateAndSave(generationId: string, request: MethodParsedRequest<'generate.start'>, signal: AbortSignal): Promise<void> {
    const { modelId, prompt, memory, params, documentId } = request;
    let started: GenerationStartInfo | undefined;
    let outcome: GenerationOutcome;
    try {
      const generate = isRemoteGeneration(modelId) ? remote.generate : inference.generate.bind(inference);
      outcome = await generate({ modelId, prompt, memory, params }, {
        onStart: (info) => {
          started = info;
          emitGeneration({ type: 'started', generationId, modelId, ...info });
        },
        onDelta: (sequence, text) => emitGeneration({ type: 'delta', generationId, sequence, text }),
      }, signal);
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.kind !== 'cancelled' || !started) {
        emitGeneration({ type: 'error', generationId, error: apiError.toJSON() });
        return;
      }
      // The process gave up without its partial result (see InferenceClient cancelGraceMs): keep what was streamed.
      const partial = generations.get(generationId)?.texts ?? [];
      outcome = {
        modelId,
        device: started.device,
        precision: started.precision,
        seed: started.seed,
        promptTokens: started.promptTokens,
        truncatedPromptTokens: started.truncatedPromptTokens,
        sequences: Array.from({ length: started.numSequences }, (_, i): Candidate => ({ text: partial[i] ?? '', tokenIds: [], finishReason: 'cancelled' })),
        timings: { loadMs: 0, prefillMs: 0, decodeMs: 0, tokensPerSecond: 0 },
      };
    }
    if (outcome.sequences.every((c) => c.finishReason === 'cancelled' && c.text.length === 0)) {
      emitGeneration({ type: 'error', generationId, error: { kind: 'cancelled', message: 'the generation was cancelled before it produced any text' } });
      return;
    }
    let historyId: number;
    try {
      // Committed before 'done' is sent: whatever the UI shows as done is already in history.
      historyId = history.generations.add({
        modelId: outcome.modelId,
        device: outcome.device,
        prompt,
        memory,
        params: { ...params, seed: outcome.seed },
        seed: outcome.seed,
        candidates: outcome.sequences,
        timings: outcome.timings,
        promptTokens: outcome.promptTokens,
        truncatedPromptTokens: outcome.truncatedPromptTokens,
        documentId,
      }).id;
    } catch (error) {
      const apiError = toApiError(error);
      log(`api: could not save generation ${generationId}: ${apiError.message}`);
      emitGeneration({ type: 'error', generationId, error: { kind: apiError.kind, message: `the generation could not be saved to history: ${apiError.message}` } });
      return;
    }
    const result: GenerationResult = { generationId, ...outcome, historyId };
    modelsArea.recordGeneration(result);
    emitGeneration({ type: 'done', generationId, result });
  }

  const batch = createBatchHandlers({
    inference,
    models,
    admission,
    emit,
    machine,
    dataDir: deps.appInfo.dataDir,
    ...deps.batchFiles,
    log,
  });

  const requireDialog = <T>(dialog: T | undefined): T => {
    if (!dialog) throw new ApiError('refused', 'native file dialogs exist only in the desktop app');
    return dialog;
  };

  const handlers: Handlers = {
    'app.info': () => deps.appInfo,

    'models.list': () => models.list().map(toModelSummary),
    'models.status': async () => {
      try {
        const [status, devices] = await Promise.all([inference.status(), inference.probe()]);
        knownDevices = devices;
        return engineStatus(status.loaded);
      } catch (error) {
        // A dead or stuck engine is a status to show, not a failure of the status call.
        log(`api: models.status: ${errorMessage(error)}`);
        return engineStatus();
      }
    },
    'models.import': async ({ path, id }) => {
      const folder = resolveImportFolder(path, machine);
      try {
        return await inference.importModel(folder, id);
      } catch (error) {
        // The engine names files inside the folder; say which machine they were looked for on.
        const apiError = toApiError(error);
        if ((apiError.kind === 'invalid_request' || apiError.kind === 'not_found') && apiError.message.includes(folder)) {
          throw new ApiError(apiError.kind, `${apiError.message} (on ${describeMachine(machine)})`);
        }
        throw apiError;
      }
    },
    'models.remove': async ({ id }) => {
      models.get(id);
      if (modelsArea.busyWith(id)) throw new ApiError('busy', `${id} is busy with a task (a download, conversion or load); wait for it or cancel it first`);
      await inference.unload(id);
      models.remove(id);
      return { removed: true as const };
    },

    'generate.start': (request) => {
      // Refused before any work: a result that cannot be saved would be lost.
      if (history.readOnly) throw new ApiError('read_only', 'Inkwell cannot save generations: its history database is read-only (see the notice at start-up)');
      const controller = new AbortController();
      let admitted: Admission;
      if (isRemoteGeneration(request.modelId)) {
        // The work is the server's (which answers 429 when it is full): nothing of this machine's bound is taken.
        remote.assertKnown(request.modelId);
        admitted = { admitted: Promise.resolve(), release: () => {} };
      } else {
        // Refused here, synchronously, when the machine is at its bound: the caller gets 'busy' at once.
        admitted = admission.enter(estimateGenerationCost(models.get(request.modelId).config, request), controller.signal);
      }
      const generationId = randomUUID();
      generations.begin(generationId);
      const finished = runGeneration(generationId, request, controller.signal, admitted)
        .catch((error: unknown) => log(`api: generation ${generationId} failed unexpectedly: ${errorMessage(error)}`))
        .finally(() => running.delete(generationId));
      running.set(generationId, { controller, finished });
      return { generationId };
    },
    'generate.cancel': ({ generationId }) => {
      const generation = running.get(generationId);
      generation?.controller.abort();
      return { cancelled: generation !== undefined };
    },
    'generate.get': ({ generationId }) => {
      const state = generations.get(generationId);
      if (!state) throw new ApiError('not_found', `no generation ${JSON.stringify(generationId)} (finished generations are kept for 10 minutes)`);
      return state;
    },
    tokenize: ({ modelId, text }) => {
      if (isRemoteGeneration(modelId)) throw new ApiError('refused', 'a remote model\'s tokenizer is on its server: pick a local model to see tokens');
      return inference.tokenize(modelId, text);
    },

    'history.list': (query) => history.generations.list(query),
    'history.get': ({ id }) => history.generations.get(id),
    'history.star': ({ id, starred }) => history.generations.setStarred(id, starred),
    'history.accept': ({ id, candidateIndex }) => history.generations.setAccepted(id, candidateIndex),
    'history.delete': ({ id }) => history.generations.delete(id),
    'history.export': ({ format, ...filters }) => history.generations.export(format, filters),

    'documents.list': () => history.documents.list(),
    'documents.get': ({ id }) => history.documents.get(id),
    'documents.create': ({ title, content }) => history.documents.create(title, content),
    'documents.save': ({ id, ...changes }) => history.documents.save(id, changes),
    'documents.delete': ({ id }) => history.documents.delete(id),
    'files.open': () => requireDialog(deps.openFile)(),
    'files.save': ({ suggestedName, content }) => requireDialog(deps.saveFile)(suggestedName, content),

    'settings.get': () => history.settings.get(),
    'settings.set': (changes) => history.settings.set(changes),

    ...modelsArea.handlers,
    ...createInspectHandlers({ inference, admission, modelShape: (id) => models.get(id).config, resolvePath: (path) => resolveImportFolder(path, machine) }),
    ...compare.handlers,
    ...remote.handlers,
    ...batch.handlers,
  };

  return {
    async handle(method, payload) {
      try {
        if (closed) throw new ApiError('refused', 'Inkwell is shutting down');
        const { method: name, params } = parseRequest(method, payload);
        const handler = handlers[name] as (params: unknown) => Promise<unknown> | unknown;
        return await handler(params);
      } catch (error) {
        const apiError = toApiError(error);
        if (apiError.kind === 'internal') log(`api: ${String(method).slice(0, 64)} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        throw apiError;
      }
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      const generations = [...running.values()];
      for (const generation of generations) generation.controller.abort();
      await Promise.all([...generations.map((g) => g.finished), modelsArea.close(), compare.close(), batch.close()]);
      stopWatchingEngine();
      listeners.clear();
    },
  };
}
