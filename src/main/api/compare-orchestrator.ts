/**
 * Runs a comparison: every column's generation with the same prompt, parameters and seed, then every
 * column's model scores every column's output (the perplexity matrix and the first divergence).
 *
 * Columns that will run on the same device run one after another, in column order: two sessions
 * sharing a CPU each take every core, so running them at once made the speed figures meaningless
 * (issue 10: the verdict flipped from run to run). Columns on different devices run at the same time.
 * Scoring runs after all generation, one model at a time, so it never disturbs a measurement.
 *
 * Transport-free: the API service (through the inference process) and the CLI (the engine in its
 * own process) hand it a CompareRunner.
 */
import {
  ApiError,
  AUTO_DEVICE_ORDER,
  type CompareColumnResult,
  type CompareColumnSpec,
  type CompareDivergence,
  type CompareEvent,
  type CompareRequest,
  type DeviceName,
  type DeviceStatus,
  type GenerationDevice,
  type GenerationParams,
  type GenerationStartInfo,
  type NewComparison,
  type Precision,
} from '../../shared/api';
import { deviceLanes, firstDivergence, perplexityOf, predictDevice } from '../../shared/compare';
import type { MeasuredGeneration } from '../common/compare-measure';
import { toApiError } from '../common/errors';

/** The scores one model gives each continuation: natural-log probability and display text per token. */
export interface ContinuationScores {
  logprobs: number[][];
  texts: string[][];
}

/** What the orchestrator needs of whatever runs the engine. */
export interface CompareRunner {
  /** The devices found on this machine (a real probe). */
  devices(): Promise<DeviceStatus[]>;
  /** One column's generation (one sequence), measured where the engine runs. */
  generate(
    column: CompareColumnSpec,
    prompt: string,
    params: GenerationParams,
    handlers: { onStart(info: GenerationStartInfo): void; onDelta(text: string): void },
    signal: AbortSignal,
  ): Promise<MeasuredGeneration>;
  /** Scores of each continuation after `prompt` under `scorer`'s model, precision and device. */
  score(scorer: CompareColumnSpec, prompt: string, continuations: number[][]): Promise<ContinuationScores>;
}

/** How a run reports and is stopped. */
export interface CompareRunOptions {
  emit(event: CompareEvent): void;
  comparisonId: string;
  signal: AbortSignal;
  /** Picks the seed when the request has none. */
  randomSeed(): number;
}

/** Runs `request` on `runner`; resolves to the comparison to save (whatever failed is recorded in its column). */
export async function runComparison(runner: CompareRunner, request: CompareRequest, options: CompareRunOptions): Promise<NewComparison> {
  const { emit, comparisonId, signal } = options;
  const seed = request.params.seed ?? options.randomSeed();
  const params = { ...request.params, seed };
  const available = new Set((await runner.devices()).filter((d) => d.available).map((d) => d.name));
  const lanes = deviceLanes(request.columns.map((c) => predictDevice(c.device, available, AUTO_DEVICE_ORDER)));
  emit({ type: 'started', comparisonId, seed, lanes });
  const t0 = performance.now();
  const since = (): number => performance.now() - t0;
  const columns: CompareColumnResult[] = new Array(request.columns.length);

  const runColumn = async (index: number, lane: DeviceName): Promise<CompareColumnResult> => {
    const spec = request.columns[index] as CompareColumnSpec;
    const startedAtMs = since();
    const base = { spec, lane, startedAtMs, device: lane, precision: null, text: '', tokenIds: [], finishReason: null, promptTokens: 0, truncatedPromptTokens: 0 };
    const zero = { timings: { loadMs: 0, prefillMs: 0, decodeMs: 0, tokensPerSecond: 0 }, ttftMs: null, totalMs: 0, peakRssBytes: 0 };
    if (signal.aborted) {
      return { ...base, ...zero, status: 'cancelled', endedAtMs: startedAtMs, error: { kind: 'cancelled', message: 'the comparison was stopped before this column ran' } };
    }
    try {
      const measured = await runner.generate(spec, request.prompt, { ...params, numReturnSequences: 1, device: spec.device }, {
        onStart: (info) => emit({ type: 'column-started', comparisonId, column: index, ...localRun(info), promptTokens: info.promptTokens }),
        onDelta: (text) => emit({ type: 'delta', comparisonId, column: index, text }),
      }, signal);
      const { outcome } = measured;
      const sequence = outcome.sequences[0];
      return {
        ...base,
        status: sequence?.finishReason === 'cancelled' ? 'cancelled' : 'done',
        ...localRun(outcome),
        ...(outcome.deviceFallbackReason !== undefined ? { deviceFallbackReason: outcome.deviceFallbackReason } : {}),
        text: sequence?.text ?? '',
        tokenIds: sequence?.tokenIds ?? [],
        finishReason: sequence?.finishReason ?? null,
        promptTokens: outcome.promptTokens,
        truncatedPromptTokens: outcome.truncatedPromptTokens,
        timings: finiteTimings(outcome.timings),
        ttftMs: measured.ttftMs,
        totalMs: measured.totalMs,
        peakRssBytes: measured.peakRssBytes,
        endedAtMs: since(),
      };
    } catch (error) {
      const apiError = toApiError(error);
      return { ...base, ...zero, status: apiError.kind === 'cancelled' ? 'cancelled' : 'failed', endedAtMs: since(), error: apiError.toJSON() };
    }
  };

  await Promise.all(
    lanes.map(async (lane) => {
      for (const index of lane.columns) {
        const result = await runColumn(index, lane.device);
        columns[index] = result;
        emit({ type: 'column-done', comparisonId, column: index, result });
      }
    }),
  );
  if (signal.aborted && columns.every((c) => c.tokenIds.length === 0)) throw new ApiError('cancelled', 'the comparison was stopped before any column wrote text');

  emit({ type: 'scoring', comparisonId });
  const continuations = columns.map((c) => c.tokenIds);
  const scores: (ContinuationScores | null)[] = [];
  for (const spec of request.columns) {
    try {
      scores.push(continuations.some((ids) => ids.length > 0) ? await runner.score(spec, request.prompt, continuations) : null);
    } catch {
      // A model that cannot score (it failed to load for its own column too) leaves its row empty.
      scores.push(null);
    }
  }
  const perplexity = scores.map((row) => continuations.map((ids, j) => (row && ids.length > 0 ? perplexityOf(row.logprobs[j] ?? []) : null)));
  return { prompt: request.prompt, params, seed, columns, perplexity, divergence: divergenceOf(columns, scores) };
}

/**
 * The first token position where the columns differ, each column's token there (text from its own
 * model's tokenizer) and every model's probability for each of those tokens. Every column agrees
 * before that position, so model i's probability of column j's token there is the one model i gave
 * it when scoring column j's output.
 */
export function divergenceOf(columns: readonly CompareColumnResult[], scores: readonly (ContinuationScores | null)[]): CompareDivergence | null {
  const withText = columns.filter((c) => c.tokenIds.length > 0);
  if (withText.length < 2) return null;
  const position = firstDivergence(columns.map((c) => c.tokenIds));
  if (position === null) return null;
  const ownTexts = (j: number): string[] => scores[j]?.texts[j] ?? scores.find((s) => s)?.texts[j] ?? [];
  const commonText = ownTexts(0).slice(0, position).join('');
  return {
    position,
    commonText,
    tokens: columns.map((column, j) => {
      const tokenId = column.tokenIds[position] ?? null;
      return {
        column: j,
        tokenId,
        text: tokenId === null ? '' : (ownTexts(j)[position] ?? ''),
        probabilities: scores.map((row) => {
          const lp = tokenId === null ? undefined : row?.logprobs[j]?.[position];
          return lp === undefined ? null : Math.min(1, Math.exp(lp));
        }),
      };
    }),
  };
}

/** A zero-length decode reports Infinity tokens/s; the contract (and history) take finite numbers. */
function finiteTimings(timings: MeasuredGeneration['outcome']['timings']): MeasuredGeneration['outcome']['timings'] {
  const finite = (x: number): number => (Number.isFinite(x) ? x : 0);
  return { loadMs: finite(timings.loadMs), prefillMs: finite(timings.prefillMs), decodeMs: finite(timings.decodeMs), tokensPerSecond: finite(timings.tokensPerSecond) };
}

/**
 * The device and precision a column ran on. Columns run local models only (compare.start looks each
 * one up in the model store), whose generations always name both; a remote one here is a bug.
 */
function localRun(ran: { device: GenerationDevice; precision: Precision | null }): { device: DeviceName; precision: Precision } {
  if (ran.device === 'remote' || ran.precision === null) throw new ApiError('internal', 'a compare column ran on a remote engine, which Compare does not support yet');
  return { device: ran.device, precision: ran.precision };
}
