/**
 * The Engine's shared decode steps and speculative decoding on a stored tiny model: concurrent
 * generate() calls (as serve mode's clients make them) share decoder steps, counted at the
 * decoder, and each gets what it gets alone; the batch limits refuse what cannot wait; the
 * model's own int8 variant drafts for its fp32 weights without changing greedy output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationParams, type GenerationParamsInput } from '../../../src/shared/api';
import { Engine, EngineError, type EngineGenerateResult } from '../../../src/main/engine';
import { openDecoder } from '../../../src/main/engine/runtime';
import { countingDecoder } from '../../helpers/counting-decoder';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';

let home: string;
let engine: Engine;
/** Decode steps the decoders ran, and how many rows each fed. */
const steps: number[] = [];

const params = (overrides: GenerationParamsInput = {}): GenerationParams =>
  GenerationParams.parse({ device: 'cpu', maxNewTokens: 10, numReturnSequences: 1, topK: 40, topP: 1, temperature: 1, repetitionPenalty: 1, ...overrides });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-engine-batching-'));
  const src = join(home, 'src');
  await makeRandomCheckpoint(src, { nLayer: 2, nEmbd: 64, nHead: 4, nPositions: 96, seed: 17 });
  engine = new Engine({ home, precision: 'fp32', openDecoder: async (paths, config, device) => countingDecoder(await openDecoder(paths, config, device), steps) });
  await engine.models.import(src, 'tiny');
});

afterAll(async () => {
  await engine?.dispose();
  rmSync(home, { recursive: true, force: true });
});

/** What must not depend on what ran beside a request. */
function output(result: EngineGenerateResult): unknown {
  return { seed: result.seed, promptTokens: result.promptTokens, sequences: result.sequences };
}

const REQUESTS = [
  { prompt: 'The lighthouse keeper', params: params({ seed: 1, numReturnSequences: 3 }) },
  { prompt: 'Once upon a time there was a', params: params({ seed: 2, doSample: false, maxNewTokens: 14 }) },
  { prompt: 'A', params: params({ seed: 3, temperature: 1.4, maxNewTokens: 16 }) },
  { prompt: 'Dear reader,', params: params({ seed: 4, numReturnSequences: 2, stop: ['e'] }) },
];

describe('Engine: concurrent requests share decode steps', () => {
  it('two or more concurrent clients share steps, counted at the decoder, each getting its output alone', async () => {
    const alone: EngineGenerateResult[] = [];
    steps.length = 0;
    for (const r of REQUESTS) alone.push(await engine.generate({ modelId: 'tiny', ...r }));
    const stepsAlone = steps.length;
    const rowsAlone = steps.reduce((a, b) => a + b, 0);
    steps.length = 0;
    const together = await Promise.all(REQUESTS.map((r) => engine.generate({ modelId: 'tiny', ...r })));
    together.forEach((result, i) => expect(output(result), REQUESTS[i]?.prompt).toEqual(output(alone[i] as EngineGenerateResult)));
    // Every row was fed as often as alone, in far fewer steps: several requests per step.
    expect(steps.reduce((a, b) => a + b, 0)).toBe(rowsAlone);
    expect(steps.length).toBeLessThan(stepsAlone / 2);
    expect(Math.max(...steps)).toBe(3 + 1 + 1 + 2);
    const [status] = engine.batchStatus();
    expect(status).toMatchObject({ modelId: 'tiny', device: 'cpu', precision: 'fp32', status: { runningRequests: 0, waitingRequests: 0 } });
  });

  it('refuses a request beyond the waiting bound with a clear error, and runs the rest', async () => {
    const bounded = new Engine({ home, precision: 'fp32', batchLimits: { maxRows: 1, maxWaiting: 1 } });
    try {
      await bounded.generate({ modelId: 'tiny', prompt: 'warm up', params: params({ maxNewTokens: 2 }) });
      const results = await Promise.allSettled([0, 1, 2].map((i) => bounded.generate({ modelId: 'tiny', prompt: `row ${i}`, params: params({ seed: i }) })));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      const error = (results[2] as PromiseRejectedResult).reason as EngineError;
      expect(error).toBeInstanceOf(EngineError);
      expect(error.kind).toBe('refused');
    } finally {
      await bounded.dispose();
    }
  });
});

describe('Engine: speculative decoding', () => {
  it("drafts with the model's own int8 variant: the greedy tokens of plain fp32 decoding, the draft reported", async () => {
    await engine.models.convert('tiny', 'int8', { measure: false });
    const greedy = params({ doSample: false, maxNewTokens: 30 });
    for (const prompt of ['The lighthouse keeper', 'Once upon a time']) {
      const plain = await engine.generate({ modelId: 'tiny', prompt, params: greedy });
      const drafted = await engine.generate({ modelId: 'tiny', prompt, params: greedy, speculative: { draftModelId: 'tiny', draftPrecision: 'int8', draftTokens: 4 } });
      expect(plain.precision).toBe('fp32');
      expect(drafted.precision).toBe('fp32');
      expect(drafted.sequences[0]?.tokenIds).toEqual(plain.sequences[0]?.tokenIds);
      expect(drafted.speculative).toMatchObject({ draftModelId: 'tiny', draftPrecision: 'int8', draftTokens: 4 });
      expect(drafted.speculative?.proposed).toBeGreaterThan(0);
      expect(drafted.speculative?.acceptanceRate).toBeGreaterThan(0);
    }
    await expect(engine.generate({ modelId: 'tiny', prompt: 'x', params: greedy, speculative: { draftModelId: 'tiny', draftPrecision: 'int4' } }))
      .rejects.toThrow(/has no int4 variant/);
    await expect(engine.generate({ modelId: 'tiny', prompt: 'x', params: greedy, speculative: { draftModelId: 'tiny', draftTokens: 17 } }))
      .rejects.toThrow(/draft tokens must be 'auto' or an integer from 1 to 16/);
  });
});
