/**
 * Runs a comparison: every column's generation with the same prompt, parameters and seed, then every
 * column's model scores every column's output (the perplexity matrix and the first divergence).
 *
 * Columns that will run on the same device run one after another, in column order: two sessions
 * sharing a CPU each take every core, so running them at once made the speed figures meaningless
 * (issue 10: the verdict flipped from run to run). Columns on different devices run at the same time.
 * A remote model's column (issue 11) runs in its engine's lane (`remote:<engine>`), at the same time
 * as the local lanes: its work is the server's, and two columns on one server still take turns.
 * Scoring runs after all generation, one local model at a time, so it never disturbs a measurement;
 * remote models score at the same time as the local ones.
 *
 * Remote servers send text, not token ids. A remote column's text is read into token ids by the
 * first local column's tokenizer, so the local models score it as any other output and the first
 * divergence counts the same tokens; a remote model scores every column's text through its
 * server (`echo` + `logprobs`, max_tokens 0), in the server's own tokenization.
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
  type CompareLaneName,
  type CompareRequest,
  type DeviceName,
  type DeviceStatus,
  type GenerationDevice,
  type GenerationParams,
  type GenerationStartInfo,
  type NewComparison,
  type Precision,
} from '../../shared/api';
import { deviceLanes, firstDivergence, laneOf, perplexityOf, predictDevice } from '../../shared/compare';
import { isRemoteModelId } from '../../shared/remote-engines';
import type { MeasuredGeneration } from '../common/compare-measure';
import { errorMessage, toApiError } from '../common/errors';
import type { RemoteCompletionResult, RemoteScoredToken } from '../engine';
import { outcomeOf } from './remote-handlers';

/** The scores one model gives each continuation: natural-log probability and display text per token. */
export interface ContinuationScores {
  logprobs: number[][];
  texts: string[][];
}

/** What the orchestrator needs of whatever runs the engine. */
export interface CompareRunner {
  /** The devices found on this machine (a real probe). */
  devices(): Promise<DeviceStatus[]>;
  /** One local column's generation (one sequence), measured where the engine runs. */
  generate(
    column: CompareColumnSpec,
    prompt: string,
    params: GenerationParams,
    handlers: { onStart(info: GenerationStartInfo): void; onDelta(text: string): void },
    signal: AbortSignal,
  ): Promise<MeasuredGeneration>;
  /** Scores of each continuation after `prompt` under a local `scorer`'s model, precision and device. */
  score(scorer: CompareColumnSpec, prompt: string, continuations: number[][]): Promise<ContinuationScores>;
  /** A local model's token ids of `text` (a remote column's output, for the local models to score). */
  tokenize(modelId: string, text: string): Promise<number[]>;
  /** Remote engines' models (`remote:<engine>/<model>`); absent where there are none to reach. */
  remote?: RemoteCompareRunner;
}

/** What the orchestrator needs of the remote engines. */
export interface RemoteCompareRunner {
  /** One remote column's generation, streamed. */
  generate(modelId: string, prompt: string, params: GenerationParams, handlers: { onStart(): void; onDelta(text: string): void }, signal: AbortSignal): Promise<RemoteCompletionResult>;
  /** The server's log-probabilities of `continuation`'s tokens after `prompt` (RemoteCompletionsClient.scoreContinuation). */
  scoreContinuation(modelId: string, prompt: string, continuation: string, signal: AbortSignal): Promise<RemoteScoredToken[]>;
}

/**
 * One scoring model's row: per column, the log-probability and text of each token it scored (null
 * where the column wrote nothing). `sharedTokens`: the row scored the columns' token ids (a local
 * model), so position k is generated token k; otherwise the tokens are a remote server's own split
 * of the text. `note`: why the row is empty.
 */
export interface ScoreRow {
  logprobs: (number[] | null)[];
  texts: (string[] | null)[];
  sharedTokens: boolean;
  note: string | null;
}

/** How a run reports and is stopped. */
export interface CompareRunOptions {
  emit(event: CompareEvent): void;
  comparisonId: string;
  signal: AbortSignal;
  /** Picks the seed when the request has none. */
  randomSeed(): number;
}

const ZERO_FIGURES = { timings: { loadMs: 0, prefillMs: 0, decodeMs: 0, tokensPerSecond: 0 }, ttftMs: null, totalMs: 0 };

/** Runs `request` on `runner`; resolves to the comparison to save (whatever failed is recorded in its column). */
export async function runComparison(runner: CompareRunner, request: CompareRequest, options: CompareRunOptions): Promise<NewComparison> {
  const { emit, comparisonId, signal } = options;
  const seed = request.params.seed ?? options.randomSeed();
  const params = { ...request.params, seed };
  const hasLocal = request.columns.some((c) => !isRemoteModelId(c.modelId));
  const available = hasLocal ? new Set((await runner.devices()).filter((d) => d.available).map((d) => d.name)) : new Set<DeviceName>();
  const lanes = deviceLanes(request.columns.map((c) => laneOf(c, () => predictDevice(c.device, available, AUTO_DEVICE_ORDER))));
  emit({ type: 'started', comparisonId, seed, lanes });
  const t0 = performance.now();
  const since = (): number => performance.now() - t0;
  const columns: CompareColumnResult[] = new Array(request.columns.length);

  const runLocalColumn = async (index: number, spec: CompareColumnSpec, lane: DeviceName, startedAtMs: number): Promise<CompareColumnResult> => {
    const base = { spec, lane, startedAtMs, device: lane, precision: null, text: '', tokenIds: [], finishReason: null, promptTokens: 0, truncatedPromptTokens: 0 };
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
      return { ...base, ...ZERO_FIGURES, peakRssBytes: 0, status: apiError.kind === 'cancelled' ? 'cancelled' : 'failed', endedAtMs: since(), error: apiError.toJSON() };
    }
  };

  const runRemoteColumn = async (index: number, spec: CompareColumnSpec, lane: CompareLaneName, startedAtMs: number): Promise<CompareColumnResult> => {
    const base = { spec, lane, startedAtMs, device: 'remote' as const, precision: null, text: '', tokenIds: [], finishReason: null, promptTokens: 0, truncatedPromptTokens: 0, peakRssBytes: null };
    try {
      if (!runner.remote) throw new ApiError('refused', `${spec.modelId} is a remote model, and remote engines cannot be reached from here`);
      const result = await runner.remote.generate(spec.modelId, request.prompt, { ...params, numReturnSequences: 1, device: 'auto' }, {
        onStart: () => emit({ type: 'column-started', comparisonId, column: index, device: 'remote', precision: null, promptTokens: 0 }),
        onDelta: (text) => emit({ type: 'delta', comparisonId, column: index, text }),
      }, signal);
      const sequence = result.sequences[0];
      return {
        ...base,
        status: sequence?.finishReason === 'cancelled' ? 'cancelled' : 'done',
        text: sequence?.text ?? '',
        finishReason: sequence?.finishReason ?? null,
        promptTokens: result.promptTokens ?? 0,
        timings: finiteTimings(outcomeOf(spec.modelId, result).timings),
        ttftMs: result.timings.firstTokenMs,
        totalMs: result.timings.totalMs,
        endedAtMs: since(),
      };
    } catch (error) {
      const apiError = toApiError(error);
      return { ...base, ...ZERO_FIGURES, status: apiError.kind === 'cancelled' ? 'cancelled' : 'failed', endedAtMs: since(), error: apiError.toJSON() };
    }
  };

  const runColumn = async (index: number, lane: CompareLaneName): Promise<CompareColumnResult> => {
    const spec = request.columns[index] as CompareColumnSpec;
    const startedAtMs = since();
    if (signal.aborted) {
      const device: GenerationDevice = isRemoteModelId(spec.modelId) ? 'remote' : (lane as DeviceName);
      return {
        spec, lane, device, startedAtMs, endedAtMs: startedAtMs, precision: null, text: '', tokenIds: [], finishReason: null, promptTokens: 0, truncatedPromptTokens: 0,
        ...ZERO_FIGURES, peakRssBytes: device === 'remote' ? null : 0,
        status: 'cancelled', error: { kind: 'cancelled', message: 'the comparison was stopped before this column ran' },
      };
    }
    return isRemoteModelId(spec.modelId) ? runRemoteColumn(index, spec, lane, startedAtMs) : runLocalColumn(index, spec, lane as DeviceName, startedAtMs);
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
  if (signal.aborted && columns.every((c) => c.text.length === 0)) throw new ApiError('cancelled', 'the comparison was stopped before any column wrote text');

  emit({ type: 'scoring', comparisonId });
  await tokenizeRemoteColumns(runner, request.columns, columns);
  const rows = await scoreRows(runner, request, columns, signal);
  const perplexity = rows.map((row) => columns.map((_, j) => (row?.logprobs[j] ? perplexityOf(row.logprobs[j]) : null)));
  const scoreNotes = rows.map((row) => row.note);
  const untokenized = columns.some((c) => c.text.length > 0 && c.tokenIds.length === 0);
  const divergence = untokenized ? null : divergenceOf(columns, rows);
  const withText = columns.filter((c) => c.text.length > 0);
  const divergenceNote =
    untokenized && withText.length >= 2 && withText.some((c) => c.text !== withText[0]?.text)
      ? 'The first divergence counts tokens with a local model\'s tokenizer, and no local column could read the remote columns\' text: add a local model as a column to see it.'
      : undefined;
  return {
    prompt: request.prompt,
    params,
    seed,
    columns,
    perplexity,
    ...(scoreNotes.some((n) => n !== null) ? { scoreNotes } : {}),
    divergence,
    ...(divergenceNote ? { divergenceNote } : {}),
  };
}

/** Reads every remote column's text into token ids with the first local column's tokenizer that can (recording which one). */
async function tokenizeRemoteColumns(runner: CompareRunner, specs: readonly CompareColumnSpec[], columns: CompareColumnResult[]): Promise<void> {
  const pending = columns.map((c, j) => ({ c, j })).filter(({ c }) => c.device === 'remote' && c.text.length > 0);
  if (pending.length === 0) return;
  const tokenizers = [...new Set(specs.filter((s) => !isRemoteModelId(s.modelId)).map((s) => s.modelId))];
  for (const modelId of tokenizers) {
    try {
      for (const { c, j } of pending) columns[j] = { ...c, tokenIds: await runner.tokenize(modelId, c.text), tokenizedBy: modelId };
      return;
    } catch {
      // A model whose tokenizer cannot be read (it failed for its own column too): try the next one.
    }
  }
}

/** Every column's model scores every column's output; local models one at a time, remote ones beside them. */
async function scoreRows(runner: CompareRunner, request: CompareRequest, columns: readonly CompareColumnResult[], signal: AbortSignal): Promise<ScoreRow[]> {
  const continuations = columns.map((c) => c.tokenIds);
  const rows: ScoreRow[] = new Array(request.columns.length);
  const empty = (note: string | null): ScoreRow => ({ logprobs: columns.map(() => null), texts: columns.map(() => null), sharedTokens: false, note });
  const nothingWritten = columns.every((c) => c.text.length === 0);

  const localRows = (async () => {
    for (const [i, spec] of request.columns.entries()) {
      if (isRemoteModelId(spec.modelId)) continue;
      if (nothingWritten || continuations.every((ids) => ids.length === 0)) {
        rows[i] = empty(null);
        continue;
      }
      try {
        const scores = await runner.score(spec, request.prompt, continuations);
        rows[i] = {
          logprobs: continuations.map((ids, j) => (ids.length > 0 ? (scores.logprobs[j] ?? []) : null)),
          texts: continuations.map((ids, j) => (ids.length > 0 ? (scores.texts[j] ?? []) : null)),
          sharedTokens: true,
          note: null,
        };
      } catch (error) {
        // A model that cannot score (it failed to load for its own column too) leaves its row empty, saying why.
        rows[i] = empty(`${spec.modelId} could not score: ${errorMessage(error)}`);
      }
    }
  })();

  const remoteRows = request.columns.map(async (spec, i) => {
    if (!isRemoteModelId(spec.modelId)) return;
    if (nothingWritten) {
      rows[i] = empty(null);
      return;
    }
    if (!runner.remote) {
      rows[i] = empty(`${spec.modelId} could not score: remote engines cannot be reached from here`);
      return;
    }
    const row = empty(null);
    try {
      for (const [j, column] of columns.entries()) {
        if (column.text.length === 0) continue;
        const tokens = await runner.remote.scoreContinuation(spec.modelId, request.prompt, column.text, signal);
        row.logprobs[j] = tokens.map((t) => t.logprob);
        row.texts[j] = tokens.map((t) => t.text);
      }
      rows[i] = row;
    } catch (error) {
      rows[i] = empty(errorMessage(error));
    }
  });

  await Promise.all([localRows, ...remoteRows]);
  return rows;
}

/**
 * The first token position where the columns differ, each column's token there (text from a local
 * model's tokenizer) and every model's probability for each of those tokens. Every column agrees
 * before that position, so model i's probability of column j's token there is the one model i gave
 * it when scoring column j's output. A remote model's row is in its server's tokens: it gives a
 * probability where its server split column j's text at the same place with the same token, and
 * says so where it did not.
 */
export function divergenceOf(columns: readonly CompareColumnResult[], rows: readonly (ScoreRow | null)[]): CompareDivergence | null {
  const withText = columns.filter((c) => c.tokenIds.length > 0);
  if (withText.length < 2) return null;
  const position = firstDivergence(columns.map((c) => c.tokenIds));
  if (position === null) return null;
  const tokenTexts = (j: number): string[] => {
    const own = rows[j];
    if (own?.sharedTokens && own.texts[j]) return own.texts[j];
    return rows.find((r) => r?.sharedTokens && r.texts[j])?.texts[j] ?? [];
  };
  const commonText = tokenTexts(0).slice(0, position).join('');
  return {
    position,
    commonText,
    tokens: columns.map((column, j) => {
      const tokenId = column.tokenIds[position] ?? null;
      const texts = tokenTexts(j);
      const text = tokenId === null ? '' : (texts[position] ?? '');
      const scored = rows.map((row): { p: number | null; note: string | null } => {
        if (tokenId === null) return { p: null, note: null };
        if (!row) return { p: null, note: 'not scored' };
        if (row.note !== null) return { p: null, note: row.note };
        const lp = row.sharedTokens ? row.logprobs[j]?.[position] : serverLogprobAt(row, j, column.text, texts, position);
        if (lp === undefined) return { p: null, note: row.sharedTokens ? 'not scored' : 'its server split this text into other tokens here, so it gave this token no probability of its own' };
        return { p: Math.min(1, Math.exp(lp)), note: null };
      });
      return {
        column: j,
        tokenId,
        text,
        probabilities: scored.map((s) => s.p),
        ...(scored.some((s) => s.note !== null) ? { notes: scored.map((s) => s.note) } : {}),
      };
    }),
  };
}

/**
 * A remote row's log-probability of the token at `position` of column j's shared tokens: the
 * server's token that starts at the same character of the text and spells the same; undefined
 * where the server split the text otherwise (or the shared tokens are unknown).
 */
function serverLogprobAt(row: ScoreRow, j: number, text: string, sharedTexts: readonly string[], position: number): number | undefined {
  const serverTexts = row.texts[j];
  const serverLogprobs = row.logprobs[j];
  const wanted = sharedTexts[position];
  if (!serverTexts || !serverLogprobs || wanted === undefined || sharedTexts.length <= position) return undefined;
  const offset = sharedTexts.slice(0, position).join('').length;
  // The server's first continuation token may begin inside the prompt (one that spans the boundary).
  let start = text.length - serverTexts.join('').length;
  for (const [k, token] of serverTexts.entries()) {
    if (start === offset) return token === wanted ? serverLogprobs[k] : undefined;
    if (start > offset) return undefined;
    start += token.length;
  }
  return undefined;
}

/** A zero-length decode reports Infinity tokens/s; the contract (and history) take finite numbers. */
function finiteTimings(timings: MeasuredGeneration['outcome']['timings']): MeasuredGeneration['outcome']['timings'] {
  const finite = (x: number): number => (Number.isFinite(x) ? x : 0);
  return { loadMs: finite(timings.loadMs), prefillMs: finite(timings.prefillMs), decodeMs: finite(timings.decodeMs), tokensPerSecond: finite(timings.tokensPerSecond) };
}

/**
 * The device and precision a local column ran on. Local generations always name both (remote
 * columns run through runner.remote); a local column without them is a bug.
 */
function localRun(ran: { device: GenerationDevice; precision: Precision | null }): { device: DeviceName; precision: Precision } {
  if (ran.device === 'remote' || ran.precision === null) throw new ApiError('internal', 'a local compare column reported no device or precision');
  return { device: ran.device, precision: ran.precision };
}
