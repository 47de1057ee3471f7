/**
 * DecodeScheduler on the scripted decoder: requests share decode steps, each one's output is the
 * same as alone, finished rows leave and waiting requests join at the next step, and the bounds
 * (rows, KV bytes, waiting requests) hold.
 */
import { describe, expect, it } from 'vitest';
import { GenerationParams, type GenerationParamsInput } from '../../../../src/shared/api';
import type { GenerationJob, DecodeOutcome } from '../../../../src/main/engine/generate/generate';
import { DecodeScheduler } from '../../../../src/main/engine/generate/scheduler';
import { kvBytesPerPosition } from '../../../../src/main/engine/runtime';
import { EngineError } from '../../../../src/main/engine/types';
import { FAKE_EOS, FAKE_VOCAB, FakeDecoder, fakeTokenizer, hashedScript } from './fake-decoder';

const SAMPLING: GenerationParamsInput = {
  doSample: true, temperature: 1, topK: 20, topP: 0.9, repetitionPenalty: 1.1, noRepeatNgramSize: 0, maxNewTokens: 12, numReturnSequences: 1,
};

function decoder(eosBias = -2): FakeDecoder {
  return new FakeDecoder(hashedScript(FAKE_VOCAB, eosBias), { vocabSize: FAKE_VOCAB, nPositions: 64, eosTokenId: FAKE_EOS });
}

function job(prompt: string, params: GenerationParamsInput, extra: Partial<GenerationJob> = {}): GenerationJob {
  return { tokenizer: fakeTokenizer, prompt, params: GenerationParams.parse(params), seed: 17, ...extra };
}

/** Requests with prompts of different lengths and their own parameters. */
const REQUESTS: [string, GenerationParamsInput, number][] = [
  ['once upon a time', { ...SAMPLING, numReturnSequences: 3 }, 1],
  ['hi', { ...SAMPLING, doSample: false, maxNewTokens: 9, numReturnSequences: 2 }, 2],
  ['the quick brown fox jumps', { ...SAMPLING, temperature: 1.7, topK: 0, topP: 1, maxNewTokens: 20 }, 3],
  ['abc', { ...SAMPLING, noRepeatNgramSize: 2, stop: ['e'] }, 4],
];

async function alone(prompt: string, params: GenerationParamsInput, seed: number, eosBias = -2): Promise<DecodeOutcome> {
  const scheduler = new DecodeScheduler(decoder(eosBias));
  try {
    return await scheduler.submit(job(prompt, params, { seed }));
  } finally {
    scheduler.close();
  }
}

/** The parts of an outcome that must not depend on what else ran (timings do). */
function output(outcome: DecodeOutcome): unknown {
  return { sequences: outcome.sequences, promptTokens: outcome.promptTokens, truncatedPromptTokens: outcome.truncatedPromptTokens };
}

describe('DecodeScheduler', () => {
  it('runs requests with different prompts and parameters in shared steps, each exactly as alone', async () => {
    const expected = await Promise.all(REQUESTS.map(([p, params, seed]) => alone(p, params, seed)));
    const session = decoder();
    const scheduler = new DecodeScheduler(session);
    const deltas: string[][][] = REQUESTS.map(([, params]) => Array.from({ length: params.numReturnSequences ?? 1 }, () => []));
    const outcomes = await Promise.all(REQUESTS.map(([p, params, seed], r) =>
      scheduler.submit(job(p, params, { seed, onDelta: (s, text) => deltas[r]?.[s]?.push(text) }))));
    scheduler.close();
    outcomes.forEach((o, r) => {
      expect(output(o)).toEqual(output(expected[r] as DecodeOutcome));
      o.sequences.forEach((s, i) => expect(deltas[r]?.[i]?.join('')).toBe(s.text));
    });
    // Shared steps: far fewer decoder calls than the requests alone, and some step held rows of several requests.
    const decodeSteps = session.steps.filter((s) => s.seqLen === 1);
    const longest = Math.max(...outcomes.flatMap((o) => o.sequences.map((s) => s.tokenIds.length)));
    expect(decodeSteps.length).toBeLessThanOrEqual(longest);
    expect(Math.max(...decodeSteps.map((s) => s.batch))).toBe(3 + 1 + 1 + 1);
    expect(scheduler.status).toMatchObject({ runningRequests: 0, runningRows: 0, waitingRequests: 0, steps: decodeSteps.length });
    expect(session.liveBatches).toBe(0);
  });

  it('admits a waiting request as soon as rows free up (continuous batching) and never exceeds maxRows', async () => {
    const session = decoder(1.5); // sequences end at different steps
    const scheduler = new DecodeScheduler(session, { maxRows: 4 });
    const order: string[] = [];
    const requests = Array.from({ length: 6 }, (_, i) => scheduler.submit(job(`prompt ${i}`, { ...SAMPLING, numReturnSequences: 2, maxNewTokens: 16, topK: 0, topP: 1 }, {
      seed: i,
      onStart: () => order.push(`start ${i}`),
    })).then((o) => {
      order.push(`end ${i}`);
      return o;
    }));
    const outcomes = await Promise.all(requests);
    scheduler.close();
    expect(Math.max(...session.steps.filter((s) => s.seqLen === 1).map((s) => s.batch))).toBeLessThanOrEqual(4);
    // Request 2 started before requests 0 and 1 had both ended: it took the rows of whichever ended first.
    expect(order.indexOf('start 2')).toBeLessThan(Math.max(order.indexOf('end 0'), order.indexOf('end 1')));
    expect(order.filter((e) => e.startsWith('start')).map((e) => e.slice(6))).toEqual(['0', '1', '2', '3', '4', '5']);
    for (const [i, o] of outcomes.entries()) expect(output(o)).toEqual(output(await alone(`prompt ${i}`, { ...SAMPLING, numReturnSequences: 2, maxNewTokens: 16, topK: 0, topP: 1 }, i, 1.5)));
  });

  it('reserves KV bytes per request and lets a request larger than the bound run alone', async () => {
    const session = decoder(-20);
    const perPosition = kvBytesPerPosition(session.config);
    // Each request reserves (prompt 5 + 10 new) positions × 2 rows; the bound fits one at a time.
    const scheduler = new DecodeScheduler(session, { maxKvBytes: 2 * 15 * perPosition });
    const params = { ...SAMPLING, numReturnSequences: 2, maxNewTokens: 10 };
    const outcomes = await Promise.all([0, 1, 2].map((i) => scheduler.submit(job('abcde', params, { seed: i }))));
    expect(Math.max(...session.steps.map((s) => s.batch))).toBe(2);
    const big = await scheduler.submit(job('abcde', { ...params, numReturnSequences: 5 }));
    expect(big.sequences).toHaveLength(5);
    scheduler.close();
    expect(outcomes.every((o) => o.sequences.every((s) => s.tokenIds.length === 10))).toBe(true);
  });

  it('refuses requests beyond maxWaiting with a clear error instead of queueing them', async () => {
    const scheduler = new DecodeScheduler(decoder(), { maxRows: 1, maxWaiting: 2 });
    const running = [0, 1, 2].map((i) => scheduler.submit(job('ab', { ...SAMPLING, maxNewTokens: 4 }, { seed: i })));
    // The first is admitted at once; two wait; a fourth is one too many.
    const refused = await scheduler.submit(job('ab', SAMPLING)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EngineError);
    expect((refused as EngineError).kind).toBe('refused');
    expect((refused as EngineError).message).toMatch(/2 generation requests are already waiting/);
    await Promise.all(running);
    scheduler.close();
  });

  it('cancels one request within a step while the others go on', async () => {
    const session = decoder(-20);
    const scheduler = new DecodeScheduler(session);
    const controller = new AbortController();
    let seen = 0;
    const params = { ...SAMPLING, maxNewTokens: 20, numReturnSequences: 2 };
    const [cancelled, other] = await Promise.all([
      scheduler.submit(job('abc', params, { seed: 1, signal: controller.signal, onDelta: (s) => s === 0 && ++seen === 5 && controller.abort() })),
      scheduler.submit(job('xyz', params, { seed: 2 })),
    ]);
    scheduler.close();
    expect(cancelled?.sequences.map((s) => [s.finishReason, s.tokenIds.length])).toEqual([['cancelled', 5], ['cancelled', 5]]);
    expect(output(other as DecodeOutcome)).toEqual(output(await alone('xyz', params, 2, -20)));
    expect(session.liveBatches).toBe(0);
  });

  it('a failing step fails the requests in it; the next request runs on a fresh batch', async () => {
    const session = decoder(-20);
    const scheduler = new DecodeScheduler(session);
    session.failAt = 4;
    const failed = await Promise.all([0, 1].map((i) => scheduler.submit(job('abc', SAMPLING, { seed: i })).catch((e: unknown) => e)));
    for (const error of failed) expect((error as EngineError).message).toMatch(/decoder step \(batch 2, 1 tokens\) failed: scripted failure/);
    session.failAt = -1;
    const after = await scheduler.submit(job('abc', SAMPLING, { seed: 0 }));
    expect(output(after)).toEqual(output(await alone('abc', SAMPLING, 0, -20)));
    scheduler.close();
    expect(session.liveBatches).toBe(0);
  });

  it('keeps the top-N alternatives of every generated token when asked', async () => {
    const scheduler = new DecodeScheduler(decoder(-20));
    const outcome = await scheduler.submit(job('abc', { ...SAMPLING, maxNewTokens: 6 }, { topLogprobs: 3 }));
    scheduler.close();
    const sequence = outcome.sequences[0];
    expect(sequence?.topLogprobs).toHaveLength(6);
    for (const step of sequence?.topLogprobs ?? []) {
      expect(step).toHaveLength(3);
      expect(step[0]!.logprob).toBeGreaterThanOrEqual(step[1]!.logprob);
      expect(step[1]!.logprob).toBeGreaterThanOrEqual(step[2]!.logprob);
    }
  });
});
