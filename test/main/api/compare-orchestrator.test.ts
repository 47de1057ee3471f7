/**
 * The comparison orchestrator on a scripted runner: columns that share a device never overlap,
 * columns on different devices do, a fallback is reported with its reason, the perplexity matrix
 * and the divergence come from the scores as an independent float64 computation says, and a stop
 * skips the columns that had not started. Remote columns (issue 11) run against a stand-in replaying
 * vLLM's and llama.cpp's recorded answers, through the same RemoteEngines the app uses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { remoteCompareRunner } from '../../../src/main/api/compare-handlers';
import { runComparison, type CompareRunner, type ContinuationScores } from '../../../src/main/api/compare-orchestrator';
import { RemoteEngines } from '../../../src/main/engine/remote/remote-engines';
import { CompareRequest, type CompareEvent, type CompareRequestInput, type DeviceStatus, type GenerationOutcome } from '../../../src/shared/api';
import { RemoteEngineConfig } from '../../../src/shared/remote-engines';
import { RemoteStandin, readRecording, type StandinAnswer, type StandinFlavour } from '../../helpers/remote-standin';

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
  /** Words of texts the scripted tokenizer read that are not " tN" (ids from 100 up). */
  readonly #words: string[] = [];
  remote?: CompareRunner['remote'];
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
      texts: continuations.map((ids) => ids.map((id) => this.textOf(id))),
    };
  }

  /** One id per space-led word: " tN" is N, any other word gets 100 + its index. */
  async tokenize(_modelId: string, text: string): Promise<number[]> {
    return (text.match(/ ?[^ ]+/g) ?? []).map((word) => {
      const t = /^ t(\d+)$/.exec(word);
      if (t) return Number(t[1]);
      if (!this.#words.includes(word)) this.#words.push(word);
      return 100 + this.#words.indexOf(word);
    });
  }

  textOf(id: number): string {
    return id >= 100 ? (this.#words[id - 100] ?? '') : ` t${id}`;
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

const standins: RemoteStandin[] = [];
afterEach(async () => {
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

/** A ScriptedRunner whose remote columns go to a stand-in of `flavour` as engine "lab". */
async function withRemote(flavour: StandinFlavour, answers: (body: Record<string, unknown>) => StandinAnswer) {
  const server = await RemoteStandin.start(flavour);
  standins.push(server);
  for (let i = 0; i < 16; i++) server.completions.push(answers);
  const engines = new RemoteEngines({ engines: () => [RemoteEngineConfig.parse({ name: 'lab', baseUrl: server.origin })], apiKey: async () => undefined });
  const runner = new ScriptedRunner();
  runner.remote = remoteCompareRunner(engines);
  return { runner, server };
}

/** The server's scripted log-probability of the k-th token of a scored text. */
const serverLogprob = (k: number): number => -(0.2 + 0.1 * k);

/** vLLM's recorded echo answer (completions-echo-score.json) re-spelled for `text`: one token per space-led word. */
function vllmEcho(text: string): StandinAnswer {
  const recorded = JSON.parse(readRecording('vllm', 'completions-echo-score.json')) as { choices: [{ text: string; logprobs: Record<string, unknown[]> }] };
  const tokens = text.match(/ ?[^ ]+/g) ?? [];
  let offset = 0;
  recorded.choices[0].text = text;
  recorded.choices[0].logprobs = {
    tokens,
    token_logprobs: tokens.map((_, k) => (k === 0 ? null : serverLogprob(k))),
    top_logprobs: tokens.map((t, k) => (k === 0 ? null : { [t]: serverLogprob(k) })),
    text_offset: tokens.map((t) => ((offset += t.length), offset - t.length)),
  };
  return { body: JSON.stringify(recorded) };
}

const generation = (flavour: StandinFlavour) => (body: Record<string, unknown>): StandinAnswer =>
  body.echo === true ? (flavour === 'vllm' ? vllmEcho(String(body.prompt)) : { fixture: 'completions-echo-ignored.json' }) : { fixture: 'completions-stream.sse', delivery: { kind: 'keepalive', gapMs: 25 } };

describe('runComparison with a remote column', () => {
  it("runs in its engine's lane at the same time as the local columns, with the figures a server lets us measure and no invented memory or device", async () => {
    const { runner, server } = await withRemote('vllm', generation('vllm'));
    const { comparison, events } = await run(runner, { prompt: 'The lighthouse keeper', columns: [{ modelId: 'small', device: 'cpu' }, { modelId: 'remote:lab/gpt2-large' }], params: { maxNewTokens: 4, seed: 7 } });
    expect(events[0]).toMatchObject({ type: 'started', lanes: [{ device: 'cpu', columns: [0] }, { device: 'remote:lab', columns: [1] }] });
    expect(events.find((e) => e.type === 'column-started' && e.column === 1)).toMatchObject({ device: 'remote', precision: null });
    const [local, remote] = comparison.columns;
    expect(remote).toMatchObject({ status: 'done', device: 'remote', lane: 'remote:lab', precision: null, peakRssBytes: null, text: ' was a café owner', tokenizedBy: 'small' });
    expect(remote!.tokenIds).toEqual(await runner.tokenize('small', ' was a café owner'));
    expect(remote!.ttftMs).toBeGreaterThan(0);
    expect(remote!.totalMs).toBeGreaterThanOrEqual(remote!.ttftMs!);
    expect(remote!.timings.tokensPerSecond).toBeGreaterThan(0);
    // Different lanes overlap: the local column ran while the server streamed.
    expect(remote!.startedAtMs < local!.endedAtMs && local!.startedAtMs < remote!.endedAtMs).toBe(true);
    // The same seed and parameters as the local column.
    expect(server.completionBodies[0]).toMatchObject({ model: 'gpt2-large', prompt: 'The lighthouse keeper', max_tokens: 4, seed: 7, stream: true });
  });

  it('the local models score its text, and a vLLM model scores every column through echo + logprobs (max_tokens 0)', async () => {
    const { runner, server } = await withRemote('vllm', generation('vllm'));
    const prompt = 'The lighthouse keeper';
    const { comparison } = await run(runner, { prompt, columns: [{ modelId: 'small' }, { modelId: 'remote:lab/gpt2-large' }], params: { maxNewTokens: 4 } });
    const remoteIds = comparison.columns[1]!.tokenIds;
    // Row 0: the local model over the remote column's tokens, as an independent float64 sum says.
    let sum = 0;
    remoteIds.forEach((token, position) => (sum += scriptedLogprob('small', token, position)));
    expect(comparison.perplexity[0]![1]).toBeCloseTo(Math.exp(-sum / remoteIds.length), 12);
    // Row 1: the server's scores of each text after the prompt (its tokens 1…n of the whole text: the prompt is 3 words).
    const scoring = server.completionBodies.filter((b) => b.echo === true);
    expect(scoring.map((b) => b.prompt)).toEqual([prompt + ' t5 t6 t7 t8', prompt + ' was a café owner']);
    for (const b of scoring) expect(b).toMatchObject({ max_tokens: 0, logprobs: 1, stream: false });
    const serverPerplexity = (words: number): number => Math.exp(-Array.from({ length: words }, (_, k) => serverLogprob(3 + k)).reduce((a, b) => a + b, 0) / words);
    expect(comparison.perplexity[1]![0]).toBeCloseTo(serverPerplexity(4), 12);
    expect(comparison.perplexity[1]![1]).toBeCloseTo(serverPerplexity(4), 12);
    expect(comparison.scoreNotes).toBeUndefined();
    // The first divergence is the first token: both models give both tokens a probability.
    const d = comparison.divergence!;
    expect(d.position).toBe(0);
    expect(d.tokens.map((t) => t.text)).toEqual([' t5', ' was']);
    expect(d.tokens[0]!.probabilities[0]).toBeCloseTo(Math.exp(scriptedLogprob('small', 5, 0)), 12);
    expect(d.tokens[0]!.probabilities[1]).toBeCloseTo(Math.exp(serverLogprob(3)), 12);
    expect(d.tokens[1]!.probabilities[1]).toBeCloseTo(Math.exp(serverLogprob(3)), 12);
    expect(d.tokens.every((t) => t.notes === undefined)).toBe(true);
  });

  it("a llama.cpp model, whose server returns no prompt log-probabilities, says so in its row and in the divergence instead of numbers", async () => {
    const { runner } = await withRemote('llama.cpp', generation('llama.cpp'));
    const { comparison } = await run(runner, { prompt: 'The lighthouse keeper', columns: [{ modelId: 'small' }, { modelId: 'remote:lab/gpt2-large' }], params: { maxNewTokens: 4 } });
    expect(comparison.columns[1]).toMatchObject({ status: 'done', text: ' was a café owner' });
    expect(comparison.perplexity[1]).toEqual([null, null]);
    expect(comparison.perplexity[0]!.every((p) => typeof p === 'number')).toBe(true);
    expect(comparison.scoreNotes?.[0]).toBeNull();
    expect(comparison.scoreNotes?.[1]).toMatch(/the server returned no prompt log-probabilities/);
    const d = comparison.divergence!;
    for (const token of d.tokens) {
      expect(token.probabilities[0]).not.toBeNull();
      expect(token.probabilities[1]).toBeNull();
      expect(token.notes?.[1]).toMatch(/no prompt log-probabilities/);
    }
  });

  it("with every column remote there is no local tokenizer: the columns take turns on their one server and the divergence says why it is missing", async () => {
    const other = readRecording('vllm', 'completions-stream.sse').replaceAll(' café', ' lonely');
    let generations = 0;
    const { runner } = await withRemote('vllm', (body) => (body.echo === true ? vllmEcho(String(body.prompt)) : generations++ === 0 ? { fixture: 'completions-stream.sse' } : { body: other, headers: { 'Content-Type': 'text/event-stream' } }));
    const { comparison, events } = await run(runner, { prompt: 'The lighthouse keeper', columns: [{ modelId: 'remote:lab/gpt2-large' }, { modelId: 'remote:lab/gpt2' }], params: { maxNewTokens: 4 } });
    expect(events[0]).toMatchObject({ lanes: [{ device: 'remote:lab', columns: [0, 1] }] });
    const [a, b] = comparison.columns;
    expect(b!.startedAtMs).toBeGreaterThanOrEqual(a!.endedAtMs);
    expect([a!.text, b!.text]).toEqual([' was a café owner', ' was a lonely owner']);
    expect(a!.tokenIds).toEqual([]);
    expect(comparison.divergence).toBeNull();
    expect(comparison.divergenceNote).toMatch(/local model's tokenizer/);
    // The servers still score the texts.
    expect(comparison.perplexity.every((row) => row.every((p) => typeof p === 'number'))).toBe(true);
  });

  it('an engine that cannot be reached fails its column with the reason; the local column stands', async () => {
    const runner = new ScriptedRunner();
    runner.remote = remoteCompareRunner(new RemoteEngines({ engines: () => [RemoteEngineConfig.parse({ name: 'lab', baseUrl: 'http://127.0.0.1:9' })], apiKey: async () => undefined }));
    const { comparison } = await run(runner, { prompt: 'x', columns: [{ modelId: 'small' }, { modelId: 'remote:lab/gpt2-large' }] });
    expect(comparison.columns[0]).toMatchObject({ status: 'done' });
    expect(comparison.columns[1]).toMatchObject({ status: 'failed', device: 'remote', peakRssBytes: null, error: { message: expect.stringMatching(/remote engine "lab"/) } });
    expect(comparison.perplexity[1]).toEqual([null, null]);
  });
});
