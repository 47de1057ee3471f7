/**
 * The Engine facade on a stored tiny model: generation results, caching of
 * decoders per (model, device), tokenize and logits (against the float64
 * reference), cancellation, truncation and errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationParams, type GenerationParamsInput } from '../../../src/shared/api';
import { Engine, EngineError } from '../../../src/main/engine';
import { openDecoder, type DecoderSession } from '../../../src/main/engine/runtime';
import { loadTokenizer, type Gpt2Tokenizer } from '../../../src/main/engine/tokenizer';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { loadReferenceGpt2, referenceLogits, type ReferenceGpt2 } from '../../helpers/reference-gpt2';

let home: string;
let src: string;
let engine: Engine;
let opened: string[];
let tokenizer: Gpt2Tokenizer;
let reference: ReferenceGpt2;

const params = (overrides: GenerationParamsInput = {}): GenerationParams =>
  GenerationParams.parse({ device: 'cpu', maxNewTokens: 8, numReturnSequences: 1, topK: 50, topP: 1, temperature: 1, repetitionPenalty: 1, ...overrides });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-engine-'));
  src = join(home, 'src');
  await makeRandomCheckpoint(src, { nLayer: 2, nEmbd: 48, nHead: 6, nPositions: 64, seed: 3 });
  opened = [];
  engine = new Engine({
    home,
    openDecoder: (paths, config, device) => {
      opened.push(`${paths.decoderPath}:${device}`);
      return openDecoder(paths, config, device);
    },
  });
  await engine.models.import(src, 'tiny');
  tokenizer = await loadTokenizer(src);
  reference = loadReferenceGpt2(src);
});

afterAll(async () => {
  await engine?.dispose();
  rmSync(home, { recursive: true, force: true });
});

/** 1e-5 relative to the logits' scale: float32 graph vs float64 loops (see test/main/engine/onnx/export-fixture.ts). */
function expectClose(ours: Float32Array, theirs: Float64Array): void {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < theirs.length; i++) {
    diff = Math.max(diff, Math.abs((ours[i] as number) - (theirs[i] as number)));
    scale = Math.max(scale, Math.abs(theirs[i] as number));
  }
  expect(ours.length).toBe(theirs.length);
  expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
}

describe('Engine', () => {
  it('generates K sequences with the contract shape and reports device, seed and timings', async () => {
    const starts: unknown[] = [];
    const deltas: string[][] = [[], [], []];
    const result = await engine.generate({
      modelId: 'tiny',
      prompt: 'Hello there',
      params: params({ numReturnSequences: 3, seed: 77 }),
      onStart: (info) => starts.push(info),
      onDelta: (s, text) => deltas[s]?.push(text),
    });
    const promptTokens = tokenizer.encode('Hello there').length;
    expect(result).toMatchObject({ modelId: 'tiny', device: 'cpu', seed: 77, promptTokens, truncatedPromptTokens: 0 });
    expect(result.deviceFallbackReason).toBeUndefined();
    expect(starts).toEqual([{ device: 'cpu', precision: 'fp32', seed: 77, promptTokens, truncatedPromptTokens: 0, numSequences: 3 }]);
    expect(result.sequences).toHaveLength(3);
    result.sequences.forEach((s, i) => {
      expect(s.tokenIds.length).toBeGreaterThan(0);
      expect(s.tokenIds.length).toBeLessThanOrEqual(8);
      expect(['stop', 'length']).toContain(s.finishReason);
      expect(deltas[i]?.join('')).toBe(s.text);
    });
    for (const key of ['loadMs', 'prefillMs', 'decodeMs', 'tokensPerSecond'] as const) {
      expect(Number.isFinite(result.timings[key])).toBe(true);
      expect(result.timings[key]).toBeGreaterThanOrEqual(0);
    }
  });

  it('is reproducible from the reported seed, and sequence 1 does not depend on K', async () => {
    const first = await engine.generate({ modelId: 'tiny', prompt: 'Seeded', params: params({ numReturnSequences: 3 }) });
    expect(Number.isInteger(first.seed)).toBe(true);
    const again = await engine.generate({ modelId: 'tiny', prompt: 'Seeded', params: params({ numReturnSequences: 3, seed: first.seed }) });
    expect(again.sequences).toEqual(first.sequences);
    const single = await engine.generate({ modelId: 'tiny', prompt: 'Seeded', params: params({ numReturnSequences: 1, seed: first.seed }) });
    expect(single.sequences[0]).toEqual(first.sequences[0]);
  });

  it('keeps one decoder per (model, device) until unload, then opens it again', async () => {
    const before = opened.length;
    await engine.generate({ modelId: 'tiny', prompt: 'a', params: params() });
    await engine.generate({ modelId: 'tiny', prompt: 'b', params: params() });
    expect(opened.length - before).toBeLessThanOrEqual(1);
    expect(engine.loaded()).toEqual([{ modelId: 'tiny', device: 'cpu', precision: 'fp32' }]);
    await engine.unload('tiny');
    expect(engine.loaded()).toEqual([]);
    const count = opened.length;
    // Two requests at once share one opening.
    const [a, b] = await Promise.all([
      engine.generate({ modelId: 'tiny', prompt: 'c', params: params({ seed: 5 }) }),
      engine.generate({ modelId: 'tiny', prompt: 'c', params: params({ seed: 5 }) }),
    ]);
    expect(opened.length).toBe(count + 1);
    expect(a.sequences).toEqual(b.sequences);
  });

  it('lets a generation in flight finish when its model is unloaded meanwhile', async () => {
    let unloading: Promise<void> | undefined;
    const result = await engine.generate({
      modelId: 'tiny',
      prompt: 'unload me',
      params: params({ maxNewTokens: 6, doSample: false }),
      onDelta: () => {
        unloading ??= engine.unload('tiny');
      },
    });
    await unloading;
    expect(unloading).toBeDefined();
    expect(result.sequences[0]?.tokenIds.length).toBeGreaterThan(1);
    expect(engine.loaded()).toEqual([]);
  });

  it('tokenizes with the model tokenizer', async () => {
    const text = 'Hello world, café 🚀';
    const { ids, tokens } = await engine.tokenize('tiny', text);
    expect(ids).toEqual(tokenizer.encode(text));
    expect(tokens).toEqual(tokenizer.tokenStrings(ids));
    expect(ids.length).toBeGreaterThan(3);
  });

  it('returns logits that agree with the float64 reference, last position and all positions', async () => {
    const prompt = 'The meaning of life is';
    const ids = tokenizer.encode(prompt);
    const expected = referenceLogits(reference, ids);
    const last = await engine.logits('tiny', prompt, false, 'cpu');
    expect(last.tokenIds).toEqual(ids);
    expect(last.logits).toBeUndefined();
    expectClose(last.logitsLast, expected[expected.length - 1] as Float64Array);
    const all = await engine.logits('tiny', prompt, true, 'cpu');
    expect(all.logits).toHaveLength(ids.length);
    all.logits?.forEach((row, i) => expectClose(row, expected[i] as Float64Array));
    expectClose(all.logitsLast, expected[expected.length - 1] as Float64Array);
  });

  it('cancels within one step and keeps the partial text', async () => {
    const controller = new AbortController();
    const deltas: string[][] = [[], []];
    let afterAbort = 0;
    const result = await engine.generate({
      modelId: 'tiny',
      prompt: 'Cancel me',
      params: params({ maxNewTokens: 40, numReturnSequences: 2, seed: 1 }),
      signal: controller.signal,
      onDelta: (s, text) => {
        if (controller.signal.aborted) afterAbort++;
        deltas[s]?.push(text);
        if (s === 0 && deltas[0]?.length === 3) controller.abort();
      },
    });
    expect(result.sequences[0]?.finishReason).toBe('cancelled');
    expect(result.sequences[0]?.tokenIds.length).toBeLessThan(40);
    result.sequences.forEach((s, i) => expect(deltas[i]?.join('')).toBe(s.text));
    // After the abort only the rest of the step already under way (sequence 1's token) and the
    // release of held-back text may still arrive; no further step runs.
    expect(afterAbort).toBeLessThanOrEqual(3);
  });

  it('cuts a prompt longer than the window from the left, reports it, and stops at the window', async () => {
    const prompt = Array.from({ length: 80 }, (_, i) => `w${i}`).join(' ');
    const promptIds = tokenizer.encode(prompt);
    expect(promptIds.length).toBeGreaterThan(64);
    const result = await engine.generate({
      modelId: 'tiny',
      prompt,
      memory: 'Memory: ',
      params: params({ maxNewTokens: 200, doSample: false }),
    });
    const memoryTokens = tokenizer.encode('Memory: ').length;
    // Reserve min(200, 64 / 2) = 32 new tokens: memory + 32 − memory prompt tokens are kept.
    expect(result.promptTokens).toBe(32);
    expect(result.truncatedPromptTokens).toBe(promptIds.length - (32 - memoryTokens));
    const s = result.sequences[0];
    if (s?.finishReason !== 'stop') {
      expect(s?.finishReason).toBe('length');
      expect(result.promptTokens + (s?.tokenIds.length ?? 0)).toBe(64);
    }
  });

  it('raises typed errors for unknown models and impossible requests', async () => {
    const kindOf = async (p: Promise<unknown>) => {
      const error = await p.then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      return (error as EngineError).kind;
    };
    expect(await kindOf(engine.generate({ modelId: 'nope', prompt: 'x', params: params() }))).toBe('not_found');
    expect(await kindOf(engine.tokenize('nope', 'x'))).toBe('not_found');
    expect(await kindOf(engine.logits('tiny', '', false))).toBe('bad_input');
    const longMemory = Array.from({ length: 70 }, (_, i) => `m${i}`).join(' ');
    expect(await kindOf(engine.generate({ modelId: 'tiny', prompt: 'x', memory: longMemory, params: params() }))).toBe('bad_input');
    expect(await kindOf(engine.generate({ modelId: 'tiny', prompt: 'one two three', params: params({ maxLength: 2 }) }))).toBe('bad_input');
  });

  it('opens the decoder while the tokenizer loads, and releases it when the tokenizer fails', async () => {
    const events: string[] = [];
    let tokenizerFailed!: () => void;
    const afterTokenizerFailure = new Promise<void>((resolve) => (tokenizerFailed = resolve));
    const other = new Engine({
      home,
      // A one-after-the-other load never opens the decoder: the tokenizer fails first.
      loadTokenizer: () => new Promise<Gpt2Tokenizer>((_, reject) => {
        setImmediate(() => {
          events.push('tokenizer failed');
          reject(new EngineError('bad_input', 'tokenizer.json: not a tokenizer'));
          tokenizerFailed();
        });
      }),
      openDecoder: async (paths, config, device): Promise<DecoderSession> => {
        events.push('decoder opening');
        await afterTokenizerFailure;
        const session = await openDecoder(paths, config, device);
        events.push('decoder opened');
        return {
          device: session.device,
          config: session.config,
          createBatch: () => session.createBatch(),
          step: (input) => session.step(input),
          logitsAll: (ids) => session.logitsAll(ids),
          release: async () => {
            events.push('decoder released');
            await session.release();
          },
        };
      },
    });
    try {
      const error = await other.generate({ modelId: 'tiny', prompt: 'x', params: params() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).kind).toBe('bad_input');
      expect((error as EngineError).message).toMatch(/tokenizer\.json/);
      expect(events).toEqual(['decoder opening', 'tokenizer failed', 'decoder opened', 'decoder released']);
      expect(other.loaded()).toEqual([]);
    } finally {
      await other.dispose();
    }
    expect(events.filter((e) => e === 'decoder released')).toHaveLength(1);
  });

  it('notices a model removed and imported again under the same id', async () => {
    await engine.generate({ modelId: 'tiny', prompt: 'x', params: params() });
    const count = opened.length;
    engine.models.remove('tiny');
    await makeRandomCheckpoint(src, { nLayer: 2, nEmbd: 48, nHead: 6, nPositions: 64, seed: 4 });
    await engine.models.import(src, 'tiny');
    reference = loadReferenceGpt2(src);
    const prompt = 'new weights';
    const { logitsLast } = await engine.logits('tiny', prompt, false, 'cpu');
    expect(opened.length).toBe(count + 1);
    const expected = referenceLogits(reference, tokenizer.encode(prompt));
    expectClose(logitsLast, expected[expected.length - 1] as Float64Array);
  });

  it('refuses work after dispose', async () => {
    const other = new Engine({ home });
    await other.generate({ modelId: 'tiny', prompt: 'x', params: params() });
    await other.dispose();
    expect(other.loaded()).toEqual([]);
    await expect(other.generate({ modelId: 'tiny', prompt: 'x', params: params() })).rejects.toThrow(/disposed/);
  });
});
