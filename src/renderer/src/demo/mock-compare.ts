/**
 * The demo back end's Compare: columns stream made-up prose one after another (they all share the
 * demo's one CPU, as the real orchestrator schedules them), with plausible figures, a made-up
 * perplexity matrix and the real divergence arithmetic; comparisons are kept in memory.
 */
import {
  ApiError,
  type CompareColumnResult,
  type CompareEvent,
  type Comparison,
  type MethodName,
  type MethodParsedRequest,
  type MethodResponse,
  type ModelSummary,
  type NewComparison,
  type ServerEvent,
} from '../../../shared/api';
import { deviceLanes, firstDivergence, formatComparisonExport, predictDevice } from '../../../shared/compare';
import { matchesSearch } from '../../../shared/search-syntax';

type CompareMethod = Extract<MethodName, `compare.${string}`>;
type CompareHandlers = { [M in CompareMethod]: (params: MethodParsedRequest<M>) => MethodResponse<M> };

/** What the mock Compare uses of the mock back end. */
export interface MockCompareDeps {
  emit(event: ServerEvent): void;
  findModel(id: string): ModelSummary;
  now(): Date;
  tokenDelayMs: number;
  /** Made-up words for a seed (the mock's prose generator). */
  words(seed: number): Generator<string, never>;
  tokenize(text: string): string[];
  tokenId(token: string): number;
}

/** The compare.* handlers of the mock back end. */
export function createMockCompare(deps: MockCompareDeps): CompareHandlers {
  let saved: Comparison[] = [];
  let nextId = 1;
  let nextRun = 1;
  const running = new Map<string, { cancelled: boolean }>();

  const run = async (comparisonId: string, request: MethodParsedRequest<'compare.start'>): Promise<void> => {
    const state = running.get(comparisonId) as { cancelled: boolean };
    const seed = request.params.seed ?? Math.floor(Math.random() * 0xffff_ffff);
    const lanes = deviceLanes(request.columns.map((c) => predictDevice(c.device, new Set(['cpu']), ['cuda', 'webgpu', 'cpu'])));
    const emit = (event: CompareEvent): void => deps.emit({ channel: 'compare', event });
    emit({ type: 'started', comparisonId, seed, lanes });
    const t0 = performance.now();
    const columns: CompareColumnResult[] = [];
    for (const [index, spec] of request.columns.entries()) {
      const model = deps.findModel(spec.modelId);
      const large = model.parameters > 300e6;
      const fallbackReason = spec.device === 'webgpu' || spec.device === 'cuda' ? `${spec.device} failed, using cpu: no ${spec.device === 'webgpu' ? 'WebGPU adapter' : 'CUDA provider'} on this machine` : undefined;
      const startedAtMs = performance.now() - t0;
      emit({ type: 'column-started', comparisonId, column: index, device: 'cpu', precision: 'fp32', promptTokens: deps.tokenize(request.prompt).length });
      const salt = [...model.id].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261);
      const stream = deps.words(seed + salt);
      let text = '';
      let count = 0;
      let ttftMs: number | null = null;
      while (count < request.params.maxNewTokens && !state.cancelled) {
        await new Promise((resolve) => setTimeout(resolve, deps.tokenDelayMs * (large ? 3.5 : 1)));
        const word = stream.next().value;
        text += word;
        count += 1;
        ttftMs ??= performance.now() - t0 - startedAtMs;
        emit({ type: 'delta', comparisonId, column: index, text: word });
      }
      const totalMs = performance.now() - t0 - startedAtMs;
      const result: CompareColumnResult = {
        spec,
        status: state.cancelled ? 'cancelled' : 'done',
        device: 'cpu',
        ...(fallbackReason ? { deviceFallbackReason: fallbackReason } : {}),
        precision: 'fp32',
        lane: 'cpu',
        text,
        tokenIds: deps.tokenize(text).map(deps.tokenId),
        finishReason: state.cancelled ? 'cancelled' : 'length',
        promptTokens: deps.tokenize(request.prompt).length,
        truncatedPromptTokens: 0,
        timings: { loadMs: large ? 2150 : 610, prefillMs: large ? 95 : 22, decodeMs: totalMs, tokensPerSecond: count > 0 ? (count / Math.max(1, totalMs)) * 1000 : 0 },
        ttftMs,
        totalMs,
        peakRssBytes: (large ? 3.6 : 0.9) * 1024 ** 3,
        startedAtMs,
        endedAtMs: performance.now() - t0,
      };
      columns.push(result);
      emit({ type: 'column-done', comparisonId, column: index, result });
    }
    emit({ type: 'scoring', comparisonId });
    const perplexity = request.columns.map((scorer) => columns.map((c) => {
      const large = deps.findModel(scorer.modelId).parameters > 300e6;
      return c.tokenIds.length === 0 ? null : Math.round((large ? 18 : 31) * (c.spec.modelId === scorer.modelId ? 0.6 : 1) * 100) / 100;
    }));
    const position = firstDivergence(columns.map((c) => c.tokenIds));
    const words = columns.map((c) => deps.tokenize(c.text));
    const comparison: NewComparison = {
      prompt: request.prompt,
      params: { ...request.params, seed },
      seed,
      columns,
      perplexity,
      divergence: position === null ? null : {
        position,
        commonText: (words[0] ?? []).slice(0, position).join(''),
        tokens: columns.map((c, j) => ({
          column: j,
          tokenId: c.tokenIds[position] ?? null,
          text: words[j]?.[position] ?? '',
          probabilities: columns.map((_, i) => Math.round((i === j ? 0.31 : 0.04) * 1000) / 1000),
        })),
      },
    };
    running.delete(comparisonId);
    const entry: Comparison = { ...comparison, id: nextId++, createdAt: deps.now().toISOString() };
    saved = [entry, ...saved];
    emit({ type: 'done', comparisonId, comparison: entry });
  };

  const filtered = (q: { query: string; modelId?: string | undefined; ids?: number[] | undefined }): Comparison[] =>
    saved.filter(
      (c) =>
        matchesSearch([c.prompt, ...c.columns.map((col) => col.text)], q.query) &&
        (q.modelId === undefined || c.columns.some((col) => col.spec.modelId === q.modelId)) &&
        (q.ids === undefined || q.ids.includes(c.id)),
    );
  const find = (id: number): Comparison => {
    const entry = saved.find((c) => c.id === id);
    if (!entry) throw new ApiError('not_found', `comparison ${id} not found`);
    return entry;
  };

  return {
    'compare.start': (request) => {
      for (const column of request.columns) deps.findModel(column.modelId);
      const comparisonId = `mock-compare-${nextRun++}`;
      running.set(comparisonId, { cancelled: false });
      setTimeout(() => void run(comparisonId, request), 0);
      return { comparisonId };
    },
    'compare.cancel': ({ comparisonId }) => {
      const state = running.get(comparisonId);
      if (state) state.cancelled = true;
      return { cancelled: state !== undefined };
    },
    'compare.list': (q) => {
      const all = filtered(q);
      return { entries: all.slice(q.offset, q.offset + q.limit), total: all.length };
    },
    'compare.get': ({ id }) => find(id),
    'compare.delete': ({ id }) => {
      const before = saved.length;
      saved = saved.filter((c) => c.id !== id);
      return { deleted: saved.length < before };
    },
    'compare.export': ({ format, ...q }) => {
      for (const id of q.ids ?? []) find(id);
      return formatComparisonExport([...filtered(q)].reverse(), format, deps.now());
    },
  };
}
