/**
 * The comparison orchestrator on a scripted runner: columns that share a device never overlap,
 * columns on different devices do, a fallback is reported with its reason, the perplexity matrix
 * and the divergence come from the scores as an independent float64 computation says, and a stop
 * skips the columns that had not started.
 */
import { describe, expect, it } from 'vitest';
import { runComparison, type CompareRunner, type ContinuationScores } from '../../../src/main/api/compare-orchestrator';
import { CompareRequest, type CompareEvent, type CompareRequestInput, type DeviceStatus, type GenerationOutcome } from '../../../src/shared/api';

interface Span {
  column: string;
  device: string;
  start: number;
  end: number;
}

/** Tokens each model writes: they share the first two, then differ. */
const WRITES: Record<string, number[]> = { small: [5, 6, 7, 8], large: [5, 6, 9, 10], medium: [5, 6, 7, 11] };

/** log p the scripted scorer `model` gives `token` at `position`: distinct per cell, so a transposed matrix would show. */
function scriptedLogprob(model: string, token: number, position: number): number {
  const m = Object.keys(WRITES).indexOf(model) + 1;
  return -(0.3 * m + 0.01 * token + 0.05 * position);
}

class ScriptedRunner implements CompareRunner {
  readonly spans: Span[] = [];
  constructor(
    private readonly available: DeviceStatus[] = [
      { name: 'cpu', available: true },
      { name: 'webgpu', available: false, reason: 'no adapter' },
      { name: 'cuda', available: false, reason: 'not installed' },
    ],
    private readonly stepMs = 15,
  ) {}

  async devices(): Promise<DeviceStatus[]> {
    return this.available;
  }

  async generate(column: Parameters<CompareRunner['generate']>[0], _prompt: string, params: Parameters<CompareRunner['generate']>[2], handlers: Parameters<CompareRunner['generate']>[3], signal: AbortSignal) {
    const start = performance.now();
    const found = this.available.find((d) => d.name === column.device);
    const used = column.device === 'auto' || !found?.available ? 'cpu' : column.device;
    const fallback = column.device !== 'auto' && column.device !== 'cpu' && !found?.available ? `${column.device} failed, using cpu: ${found?.reason}` : undefined;
    handlers.onStart({ device: used, precision: 'fp32', seed: params.seed ?? 0, promptTokens: 3, truncatedPromptTokens: 0, numSequences: 1 });
    const ids = WRITES[column.modelId] ?? [];
    for (const id of ids) {
      if (signal.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, this.stepMs));
      handlers.onDelta(` t${id}`);
    }
    this.spans.push({ column: `${column.modelId}/${column.device}`, device: used, start, end: performance.now() });
    const outcome: GenerationOutcome = {
      modelId: column.modelId,
      device: used,
      precision: 'fp32',
      ...(fallback ? { deviceFallbackReason: fallback } : {}),
      seed: params.seed ?? 0,
      promptTokens: 3,
      truncatedPromptTokens: 0,
      sequences: [{ text: ids.map((id) => ` t${id}`).join(''), tokenIds: ids, finishReason: 'length' }],
      timings: { loadMs: 1, prefillMs: 2, decodeMs: 3, tokensPerSecond: 100 },
    };
    return { outcome, ttftMs: this.stepMs, totalMs: performance.now() - start, peakRssBytes: 1e6 };
  }

  async score(scorer: Parameters<CompareRunner['score']>[0], _prompt: string, continuations: number[][]): Promise<ContinuationScores> {
    return {
      logprobs: continuations.map((ids) => ids.map((token, position) => scriptedLogprob(scorer.modelId, token, position))),
      texts: continuations.map((ids) => ids.map((id) => ` t${id}`)),
    };
  }
}

async function run(runner: CompareRunner, input: CompareRequestInput, signal = new AbortController().signal) {
  const events: CompareEvent[] = [];
  const comparison = await runComparison(runner, CompareRequest.parse(input), { emit: (e) => events.push(e), comparisonId: 'c1', signal, randomSeed: () => 1234 });
  return { comparison, events };
}

describe('runComparison', () => {
  it('runs columns that share a device one after another, never at once', async () => {
    const runner = new ScriptedRunner();
    const { comparison } = await run(runner, {
      prompt: 'The lighthouse',
      // 'auto' and an unavailable webgpu both land on the cpu: all three share it.
      columns: [{ modelId: 'small', device: 'cpu' }, { modelId: 'large', device: 'auto' }, { modelId: 'medium', device: 'webgpu' }],
    });
    expect(runner.spans).toHaveLength(3);
    const sorted = [...runner.spans].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
    expect(sorted.map((s) => s.column)).toEqual(['small/cpu', 'large/auto', 'medium/webgpu']);
    expect(comparison.columns.map((c) => c.lane)).toEqual(['cpu', 'cpu', 'cpu']);
    for (let i = 1; i < comparison.columns.length; i++) expect(comparison.columns[i]!.startedAtMs).toBeGreaterThanOrEqual(comparison.columns[i - 1]!.endedAtMs);
  });

  it('runs columns on different devices at the same time', async () => {
    const runner = new ScriptedRunner([
      { name: 'cpu', available: true },
      { name: 'webgpu', available: true },
      { name: 'cuda', available: false, reason: 'not installed' },
    ], 25);
    const { events } = await run(runner, { prompt: 'x', columns: [{ modelId: 'small', device: 'cpu' }, { modelId: 'large', device: 'webgpu' }] });
    const [a, b] = runner.spans;
    expect(a && b && a.start < b.end && b.start < a.end).toBe(true);
    expect(events[0]).toMatchObject({ type: 'started', lanes: [{ device: 'cpu', columns: [0] }, { device: 'webgpu', columns: [1] }] });
  });

  it('reports a forced fallback as such, with its reason', async () => {
    const { comparison, events } = await run(new ScriptedRunner(), { prompt: 'x', columns: [{ modelId: 'small', device: 'cpu' }, { modelId: 'large', device: 'webgpu' }] });
    const [cpu, gpu] = comparison.columns;
    expect(cpu?.deviceFallbackReason).toBeUndefined();
    expect(gpu).toMatchObject({ device: 'cpu', spec: { device: 'webgpu' }, deviceFallbackReason: 'webgpu failed, using cpu: no adapter' });
    expect(events.find((e) => e.type === 'column-done' && e.column === 1)).toMatchObject({ result: { deviceFallbackReason: 'webgpu failed, using cpu: no adapter' } });
  });

  it('uses one seed for every column: the request\'s, or one picked for all', async () => {
    const runner = new ScriptedRunner();
    const seeds: number[] = [];
    const generate = runner.generate.bind(runner);
    runner.generate = (column, prompt, params, handlers, signal) => {
      seeds.push(params.seed ?? -1);
      return generate(column, prompt, params, handlers, signal);
    };
    const picked = await run(runner, { prompt: 'x', columns: [{ modelId: 'small' }, { modelId: 'large' }] });
    expect(picked.comparison.seed).toBe(1234);
    await run(runner, { prompt: 'x', columns: [{ modelId: 'small' }, { modelId: 'large' }], params: { seed: 99 } });
    expect(seeds).toEqual([1234, 1234, 99, 99]);
  });

  it('computes the perplexity matrix and the divergence as a float64 reference does', async () => {
    const { comparison } = await run(new ScriptedRunner(), {
      prompt: 'x',
      columns: [{ modelId: 'small' }, { modelId: 'large' }, { modelId: 'medium' }],
    });
    const models = ['small', 'large', 'medium'];
    // Reference: perplexity = exp(-(1/n) Σ log p), written out independently of perplexityOf.
    models.forEach((scorer, i) => {
      models.forEach((writer, j) => {
        const ids = WRITES[writer]!;
        let sum = 0;
        ids.forEach((token, position) => (sum += scriptedLogprob(scorer, token, position)));
        const expected = Math.exp(-sum / ids.length);
        expect(Math.abs(comparison.perplexity[i]![j]! - expected) / expected).toBeLessThan(1e-12);
      });
    });
    // The tokens are 5 6 | 7 8, 5 6 | 9 10, 5 6 | 7 11: all agree up to position 2.
    const d = comparison.divergence!;
    expect(d.position).toBe(2);
    expect(d.commonText).toBe(' t5 t6');
    expect(d.tokens.map((t) => t.tokenId)).toEqual([7, 9, 7]);
    d.tokens.forEach((token) => {
      models.forEach((scorer, i) => expect(token.probabilities[i]).toBeCloseTo(Math.exp(scriptedLogprob(scorer, token.tokenId!, 2)), 12));
    });
  });

  it('a column that fails is recorded as failed and the others still run', async () => {
    const runner = new ScriptedRunner();
    const generate = runner.generate.bind(runner);
    runner.generate = (column, ...rest) => (column.modelId === 'large' ? Promise.reject(new Error('the graph would not load')) : generate(column, ...rest));
    const { comparison } = await run(runner, { prompt: 'x', columns: [{ modelId: 'large' }, { modelId: 'small' }] });
    expect(comparison.columns[0]).toMatchObject({ status: 'failed', error: { message: 'the graph would not load' }, tokenIds: [] });
    expect(comparison.columns[1]).toMatchObject({ status: 'done', tokenIds: WRITES.small });
    expect(comparison.perplexity[0]![0]).toBeNull();
    expect(comparison.divergence).toBeNull();
  });

  it('a stop mid-run cancels the running column and skips those that had not started', async () => {
    const controller = new AbortController();
    const runner = new ScriptedRunner(undefined, 30);
    const done = run(runner, { prompt: 'x', columns: [{ modelId: 'small' }, { modelId: 'large' }] }, controller.signal);
    setTimeout(() => controller.abort(), 45);
    const { comparison } = await done;
    expect(comparison.columns[1]).toMatchObject({ status: 'cancelled', tokenIds: [] });
    expect(runner.spans).toHaveLength(1);
  });
});
