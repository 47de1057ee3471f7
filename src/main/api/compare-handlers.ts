/**
 * The compare block of the API: runs comparisons through the inference process (one admission for
 * the whole comparison, so a comparison never half-runs for lack of room), streams their progress on
 * the 'compare' channel, and saves each one to history as ONE entry before 'done' is sent.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, type CompareEvent, type MethodName, type MethodParsedRequest, type MethodResponse } from '../../shared/api';
import { errorMessage, toApiError } from '../common/errors';
import type { InferenceArgs, InferenceResult } from '../common/inference-protocol';
import { estimateGenerationCost, type AdmissionQueue, type WorkCost } from '../inference/admission';
import type { GenerateHandlers } from '../inference/client';
import { runComparison, type CompareRunner, type RemoteCompareRunner } from './compare-orchestrator';
import type { HistoryPort } from './history-port';
import { isRemoteModelId } from '../../shared/remote-engines';
import type { RemoteEngines } from '../engine';
import type { RemoteArea } from './remote-handlers';
import type { ModelsPort } from './service';

type CompareMethod = Extract<MethodName, `compare.${string}`>;
type CompareHandlerTable = { [M in CompareMethod]: (params: MethodParsedRequest<M>) => Promise<MethodResponse<M>> | MethodResponse<M> };

/** What the compare handlers need of the inference client (InferenceClient satisfies it). */
export interface CompareInferencePort {
  probe(): Promise<InferenceResult<'probe'>['devices']>;
  compareGenerate(args: InferenceArgs<'compareGenerate'>, handlers: GenerateHandlers, signal?: AbortSignal): Promise<InferenceResult<'compareGenerate'>>;
  compareScore(args: InferenceArgs<'compareScore'>): Promise<InferenceResult<'compareScore'>>;
  tokenize(modelId: string, text: string): Promise<InferenceResult<'tokenize'>>;
}

/** What the compare handlers are built from. */
export interface CompareHandlerDeps {
  history: HistoryPort;
  inference: CompareInferencePort;
  models: Pick<ModelsPort, 'get'>;
  /** Remote columns' generation and scoring; `assertKnown` refuses an engine Settings does not have before anything runs. */
  remote: Pick<RemoteArea, 'engines' | 'assertKnown'>;
  admission: AdmissionQueue;
  emit(event: CompareEvent): void;
  log(line: string): void;
}

/** The compare handlers and a close that stops running comparisons and waits for them to be saved. */
export function createCompareHandlers(deps: CompareHandlerDeps): { handlers: CompareHandlerTable; close(): Promise<void> } {
  const { history, inference, models, remote, admission, emit, log } = deps;
  const running = new Map<string, { controller: AbortController; finished: Promise<void> }>();

  const runner: CompareRunner = {
    devices: () => inference.probe(),
    generate: (column, prompt, params, handlers, signal) =>
      inference.compareGenerate(
        { modelId: column.modelId, prompt, params, precision: column.precision },
        { onStart: (info) => handlers.onStart(info), onDelta: (sequence, text) => sequence === 0 && handlers.onDelta(text) },
        signal,
      ),
    score: (scorer, prompt, continuations) =>
      inference.compareScore({ modelId: scorer.modelId, precision: scorer.precision, device: scorer.device, prompt, continuations }),
    tokenize: async (modelId, text) => (await inference.tokenize(modelId, text)).ids,
    remote: remoteCompareRunner(remote.engines),
  };

  async function runAndSave(comparisonId: string, request: MethodParsedRequest<'compare.start'>, signal: AbortSignal): Promise<void> {
    try {
      const comparison = await runComparison(runner, request, { emit, comparisonId, signal, randomSeed: () => Math.floor(Math.random() * 0x1_0000_0000) });
      // Committed before 'done' is sent: whatever the UI shows as done is already in history.
      const saved = history.comparisons.add(comparison);
      emit({ type: 'done', comparisonId, comparison: saved });
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.kind === 'internal') log(`api: comparison ${comparisonId} failed: ${errorMessage(error)}`);
      emit({ type: 'error', comparisonId, error: apiError.toJSON() });
    }
  }

  const handlers: CompareHandlerTable = {
    'compare.start': (request) => {
      if (history.readOnly) throw new ApiError('read_only', 'Inkwell cannot save comparisons: its history database is read-only (see the notice at start-up)');
      for (const column of request.columns) if (isRemoteModelId(column.modelId)) remote.assertKnown(column.modelId);
      // A remote column's work is the server's: only the local columns take this machine's room.
      const cost = request.columns.filter((column) => !isRemoteModelId(column.modelId)).reduce<WorkCost>(
        (sum, column) => {
          const one = estimateGenerationCost(models.get(column.modelId).config, { prompt: request.prompt, memory: '', params: { ...request.params, numReturnSequences: 1 } });
          return { sequences: sum.sequences + one.sequences, bytes: sum.bytes + one.bytes };
        },
        { sequences: 0, bytes: 0 },
      );
      const controller = new AbortController();
      // Refused synchronously when the machine is at its bound: the caller gets 'busy' at once.
      const admitted = admission.enter(cost, controller.signal);
      const comparisonId = randomUUID();
      const finished = admitted.admitted
        .then(() => runAndSave(comparisonId, request, controller.signal), (error: unknown) => emit({ type: 'error', comparisonId, error: toApiError(error).toJSON() }))
        .catch((error: unknown) => log(`api: comparison ${comparisonId} failed unexpectedly: ${errorMessage(error)}`))
        .finally(() => {
          admitted.release();
          running.delete(comparisonId);
        });
      running.set(comparisonId, { controller, finished });
      return { comparisonId };
    },
    'compare.cancel': ({ comparisonId }) => {
      const comparison = running.get(comparisonId);
      comparison?.controller.abort();
      return { cancelled: comparison !== undefined };
    },
    'compare.list': (query) => history.comparisons.list(query),
    'compare.get': ({ id }) => history.comparisons.get(id),
    'compare.delete': ({ id }) => history.comparisons.delete(id),
    'compare.export': ({ format, ...filters }) => history.comparisons.export(format, filters),
  };

  return {
    handlers,
    async close() {
      const all = [...running.values()];
      for (const comparison of all) comparison.controller.abort();
      await Promise.all(all.map((c) => c.finished));
    },
  };
}

/** Remote columns through the configured engines (the same clients the Write page's remote generations use). */
export function remoteCompareRunner(engines: Pick<RemoteEngines, 'complete' | 'scoreContinuation'>): RemoteCompareRunner {
  return {
    generate: (modelId, prompt, params, handlers, signal) =>
      engines.complete(modelId, { prompt, params, signal, onStart: () => handlers.onStart(), onDelta: (sequence, text) => sequence === 0 && handlers.onDelta(text) }),
    scoreContinuation: (modelId, prompt, continuation, signal) => engines.scoreContinuation(modelId, prompt, continuation, signal),
  };
}
