import { describe, expect, it } from 'vitest';
import type { GenerationParamsInput } from '../../../../src/shared/api';
import { GenerationParams } from '../../../../src/shared/api';
import type { GenerationRun } from '../../../../src/main/engine/generate/generate';
import { runGeneration } from '../../../../src/main/engine/generate/generate';
import { EngineError } from '../../../../src/main/engine/types';
import type { Script } from './fake-decoder';
import { FAKE_EOS, FAKE_VOCAB, FakeDecoder, fakeTokenizer, hashedScript, spellingScript } from './fake-decoder';

const SAMPLING: GenerationParamsInput = {
  doSample: true, temperature: 1, topK: 20, topP: 0.9, repetitionPenalty: 1, noRepeatNgramSize: 0, maxNewTokens: 12, numReturnSequences: 1,
};
const GREEDY: GenerationParamsInput = { ...SAMPLING, doSample: false };

function decoder(script: Script = hashedScript(), nPositions = 64): FakeDecoder {
  return new FakeDecoder(script, { vocabSize: FAKE_VOCAB, nPositions, eosTokenId: FAKE_EOS });
}

interface Collected {
  outcome: Awaited<ReturnType<typeof runGeneration>>;
  deltas: string[][];
  session: FakeDecoder;
}

async function generate(params: GenerationParamsInput, extra: Partial<GenerationRun> & { session?: FakeDecoder } = {}): Promise<Collected> {
  const session = extra.session ?? decoder();
  const parsed = GenerationParams.parse(params);
  const deltas: string[][] = Array.from({ length: parsed.numReturnSequences }, () => []);
  const outcome = await runGeneration({
    prompt: 'once upon a time',
    seed: 1234,
    ...extra,
    session,
    tokenizer: fakeTokenizer,
    params: parsed,
    onDelta: (s, text) => {
      deltas[s]?.push(text);
      extra.onDelta?.(s, text);
    },
  });
  expect(session.liveCaches).toBe(0);
  expect(session.liveBatches).toBe(0);
  return { outcome, deltas, session };
}

describe('runGeneration (scripted decoder)', () => {
  it('follows a greedy script, streams it and ends on the end-of-text token', async () => {
    const prompt = 'hi';
    const { outcome, deltas } = await generate({ ...GREEDY, maxNewTokens: 50 }, { prompt, session: decoder(spellingScript(2, ' there')) });
    expect(outcome.sequences).toMatchObject([{ text: ' there', tokenIds: fakeTokenizer.encode(' there'), finishReason: 'stop' }]);
    // The script gives the spelled token logit 10 and the other 63 logit 0: log p = −log(1 + 63·e^−10).
    for (const logprob of outcome.sequences[0]?.tokenLogprobs ?? []) expect(logprob).toBeCloseTo(-Math.log1p(63 * Math.exp(-10)), 6);
    expect(outcome.sequences[0]?.tokenLogprobs).toHaveLength(6);
    expect(deltas[0]).toEqual([' ', 't', 'h', 'e', 'r', 'e']);
    expect(outcome.promptTokens).toBe(2);
    expect(outcome.truncatedPromptTokens).toBe(0);
  });

  it('stops at max_new_tokens with finish reason length', async () => {
    const { outcome, session } = await generate({ ...GREEDY, maxNewTokens: 3 }, { prompt: 'hi', session: decoder(spellingScript(2, ' there')) });
    expect(outcome.sequences[0]).toMatchObject({ text: ' th', finishReason: 'length' });
    // The prefill gives the first token; two more steps give the rest; the last token is never fed back.
    expect(session.steps.map((s) => s.seqLen)).toEqual([2, 1, 1]);
  });

  it('applies max_length (prompt + new tokens)', async () => {
    const { outcome } = await generate({ ...GREEDY, maxNewTokens: 40, maxLength: 6 }, { prompt: 'hi', session: decoder(spellingScript(2, ' there')) });
    expect(outcome.sequences[0]?.tokenIds.length).toBe(4);
  });

  it('cuts the text before a stop string and never streams any part of it', async () => {
    const { outcome, deltas } = await generate(
      { ...GREEDY, maxNewTokens: 40, stop: ['END', 'xyz'] },
      { prompt: 'hi', session: decoder(spellingScript(2, ' the ENx and END more')) },
    );
    expect(outcome.sequences[0]?.text).toBe(' the ENx and ');
    expect(outcome.sequences[0]?.finishReason).toBe('stop');
    expect(deltas[0]?.join('')).toBe(' the ENx and ');
    // The token that completed the stop string is the last one reported.
    expect(outcome.sequences[0]?.tokenIds).toEqual(fakeTokenizer.encode(' the ENx and END'));
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await generate({ ...SAMPLING, numReturnSequences: 3 }, { seed: 7 });
    const b = await generate({ ...SAMPLING, numReturnSequences: 3 }, { seed: 7 });
    const c = await generate({ ...SAMPLING, numReturnSequences: 3 }, { seed: 8 });
    expect(b.outcome.sequences).toEqual(a.outcome.sequences);
    expect(c.outcome.sequences).not.toEqual(a.outcome.sequences);
    // Different sequences of one batch draw from different streams.
    expect(new Set(a.outcome.sequences.map((s) => s.text)).size).toBeGreaterThan(1);
  });

  it('gives sequence i the same text whatever the batch size, and alone with firstSequence = i', async () => {
    const params = { ...SAMPLING, maxNewTokens: 20, topK: 0, topP: 1, repetitionPenalty: 1.3, noRepeatNgramSize: 2 };
    const batch = await generate({ ...params, numReturnSequences: 5 }, { seed: 99 });
    for (let i = 0; i < 5; i++) {
      const alone = await generate({ ...params, numReturnSequences: 1 }, { seed: 99, firstSequence: i });
      expect(alone.outcome.sequences[0]).toEqual(batch.outcome.sequences[i]);
      expect(alone.deltas[0]).toEqual(batch.deltas[i]);
    }
    const smaller = await generate({ ...params, numReturnSequences: 2 }, { seed: 99 });
    expect(smaller.outcome.sequences).toEqual(batch.outcome.sequences.slice(0, 2));
  });

  it('prefills once at batch 1 and drops finished sequences from the batch', async () => {
    // A strong end-of-text bias makes sequences end at different steps.
    const { outcome, session } = await generate({ ...SAMPLING, numReturnSequences: 6, maxNewTokens: 30, topK: 0, topP: 1 }, {
      session: decoder(hashedScript(FAKE_VOCAB, 3.2)),
      seed: 5,
    });
    const lengths = outcome.sequences.map((s) => s.tokenIds.length);
    expect(new Set(lengths).size).toBeGreaterThan(1);
    expect(session.steps[0]).toEqual({ batch: 1, seqLen: 16, pastLength: 0 });
    // Step j ≥ 1 feeds each sequence's j-th token: a sequence ended by end-of-text after L tokens is fed
    // in steps 1..L (step L chose the end), one stopped by max_new_tokens in steps 1..L-1.
    for (let j = 1; j < session.steps.length; j++) {
      const fed = outcome.sequences.filter((s) => j <= (s.finishReason === 'stop' ? s.tokenIds.length : s.tokenIds.length - 1)).length;
      expect(session.steps[j]?.batch, `step ${j}`).toBe(fed);
    }
    const batches = session.steps.slice(1).map((s) => s.batch);
    for (let j = 1; j < batches.length; j++) expect(batches[j]).toBeLessThanOrEqual(batches[j - 1] as number);
  });

  it('runs greedy decoding once for all K sequences and streams it to each', async () => {
    const { outcome, deltas, session } = await generate({ ...GREEDY, numReturnSequences: 3, maxNewTokens: 5 }, { prompt: 'hi', session: decoder(spellingScript(2, ' there')) });
    expect(outcome.sequences.map((s) => s.text)).toEqual([' ther', ' ther', ' ther']);
    expect(deltas).toEqual([[' ', 't', 'h', 'e', 'r'], [' ', 't', 'h', 'e', 'r'], [' ', 't', 'h', 'e', 'r']]);
    expect(session.steps.every((s) => s.batch === 1)).toBe(true);
  });

  it('applies the repetition penalty and the n-gram block in the loop', async () => {
    // A script that always prefers token "a" (0) then "b" (1).
    const script: Script = () => {
      const row = new Float32Array(FAKE_VOCAB).fill(-5);
      row[0] = 5;
      row[1] = 4;
      row[2] = 3;
      return row;
    };
    const plain = await generate({ ...GREEDY, maxNewTokens: 4 }, { prompt: 'c', session: decoder(script) });
    expect(plain.outcome.sequences[0]?.text).toBe('aaaa');
    const blocked = await generate({ ...GREEDY, maxNewTokens: 4, noRepeatNgramSize: 2 }, { prompt: 'c', session: decoder(script) });
    // "c a a" holds the bigram "a a", so "a" cannot follow "a" again; nothing has followed "b" yet.
    expect(blocked.outcome.sequences[0]?.text).toBe('aaba');
    // Penalty 2 on the seen "a" (5 → 2.5) makes "b" (4) win; once "b" is seen too (→ 2), "c" was in the prompt (3 → 1.5), so "a" wins again.
    const penalised = await generate({ ...GREEDY, maxNewTokens: 3, repetitionPenalty: 2 }, { prompt: 'c', session: decoder(script) });
    expect(penalised.outcome.sequences[0]?.text).toBe('aba');
  });

  it('cancels within one step, keeping the partial text', async () => {
    const controller = new AbortController();
    let seen = 0;
    const { outcome, session } = await generate({ ...SAMPLING, numReturnSequences: 2, maxNewTokens: 30, topK: 0, topP: 1 }, {
      session: decoder(hashedScript(FAKE_VOCAB, -20)),
      signal: controller.signal,
      onDelta: (s) => {
        if (s === 0 && ++seen === 4) controller.abort();
      },
    });
    for (const sequence of outcome.sequences) {
      expect(sequence.finishReason).toBe('cancelled');
      expect(sequence.tokenIds.length).toBe(4);
      expect(sequence.text).toBe(fakeTokenizer.decode(sequence.tokenIds));
    }
    expect(session.steps.length).toBe(4);
  });

  it('does nothing when cancelled before the start', async () => {
    const controller = new AbortController();
    controller.abort();
    const { outcome, session } = await generate({ ...SAMPLING, numReturnSequences: 2 }, { signal: controller.signal });
    expect(outcome.sequences).toEqual([
      { text: '', tokenIds: [], finishReason: 'cancelled', tokenLogprobs: [] },
      { text: '', tokenIds: [], finishReason: 'cancelled', tokenLogprobs: [] },
    ]);
    expect(session.steps.length).toBe(0);
  });

  it('cuts a long prompt from the left, reports it, and ends at the window with length', async () => {
    let started: unknown;
    const prompt = 'abcdefghijklmnopqrst'; // 20 tokens, window 16
    const { outcome, session } = await generate({ ...SAMPLING, maxNewTokens: 50, topK: 0, topP: 1 }, {
      prompt,
      memory: 'zz',
      session: decoder(hashedScript(FAKE_VOCAB, -50), 16),
      onStart: (info) => {
        started = info;
      },
    });
    // Reserve = min(50, 16/2) = 8: memory 2 + prompt 6 kept, 14 cut.
    expect(outcome.promptTokens).toBe(8);
    expect(outcome.truncatedPromptTokens).toBe(14);
    expect(started).toEqual({ device: 'cpu', seed: 1234, promptTokens: 8, truncatedPromptTokens: 14, numSequences: 1 });
    expect(session.steps[0]?.seqLen).toBe(8);
    expect(outcome.sequences[0]?.finishReason).toBe('length');
    expect(outcome.sequences[0]?.tokenIds.length).toBe(8);
    expect(Math.max(...session.steps.map((s) => s.pastLength + s.seqLen))).toBe(15);
  });

  it('reports timings', async () => {
    const { outcome } = await generate(SAMPLING);
    expect(outcome.prefillMs).toBeGreaterThanOrEqual(0);
    expect(outcome.decodeMs).toBeGreaterThanOrEqual(0);
    expect(outcome.tokensPerSecond).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(outcome.tokensPerSecond)).toBe(true);
  });

  it('turns a failing decoder step into an internal EngineError and frees the caches', async () => {
    const session = decoder();
    session.failAt = 3;
    const error = await runGeneration({
      session, tokenizer: fakeTokenizer, prompt: 'abc', seed: 1, params: GenerationParams.parse({ ...SAMPLING, numReturnSequences: 2 }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).kind).toBe('internal');
    expect((error as EngineError).message).toMatch(/decoder step \(batch 2, 1 tokens\) failed: scripted failure/);
    expect(session.liveCaches).toBe(0);
    expect(session.liveBatches).toBe(0);
  });
});
