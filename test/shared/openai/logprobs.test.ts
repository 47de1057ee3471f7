/**
 * Log-probabilities in the completions format: offsets in code points
 * (Python's string indices, the unit OpenAI's offsets are in), running on
 * across streamed pieces, -Infinity kept representable in JSON, duplicate
 * token texts, and reading the format (and llama.cpp's chat-shaped one) back.
 */
import { describe, expect, it } from 'vitest';
import {
  CompletionLogprobsCursor,
  LOGPROB_FLOOR,
  codePointLength,
  concatCompletionLogprobs,
  tokensFromCompletionLogprobs,
  tokensFromContentLogprobs,
  type TokenLogprob,
} from '../../../src/shared/openai/logprobs';

const token = (text: string, logprob: number | null, top: [string, number][] = []): TokenLogprob => ({ token: text, logprob, top: top.map(([t, l]) => ({ token: t, logprob: l })) });

describe('codePointLength', () => {
  it('counts code points as Python does, not UTF-16 units', () => {
    // Python: len('Héllo 👋') == 7, len('\U0001F469\u200d\U0001F4BB') == 3.
    expect(codePointLength('Héllo 👋')).toBe(7);
    expect('Héllo 👋'.length).toBe(8);
    expect(codePointLength('👩‍💻')).toBe(3);
    expect(codePointLength('')).toBe(0);
    // A lone surrogate (a token cut inside a character) is one code point, as Python counts it.
    expect(codePointLength('\ud83d')).toBe(1);
  });
});

describe('CompletionLogprobsCursor', () => {
  it('gives the same offsets whether the tokens come in one piece or streamed one by one', () => {
    const tokens = [token('The', null), token(' café', -1.5, [[' café', -1.5], [' tea', -2]]), token(' 👋', -0.25, [[' 👋', -0.25]])];
    const whole = new CompletionLogprobsCursor(0).format(tokens);
    expect(whole).toEqual({
      tokens: ['The', ' café', ' 👋'],
      token_logprobs: [null, -1.5, -0.25],
      top_logprobs: [null, { ' café': -1.5, ' tea': -2 }, { ' 👋': -0.25 }],
      text_offset: [0, 3, 8],
    });
    const cursor = new CompletionLogprobsCursor(0);
    expect(concatCompletionLogprobs(tokens.map((t) => cursor.format([t])))).toEqual(whole);
  });

  it('starts where it is told (after the prompt when the prompt is not echoed)', () => {
    expect(new CompletionLogprobsCursor(codePointLength('Héllo 👋')).format([token(' a', -1)]).text_offset).toEqual([7]);
  });

  it('writes -Infinity and NaN as the floor vLLM uses, so the JSON keeps a number', () => {
    const block = new CompletionLogprobsCursor(0).format([token('a', Number.NEGATIVE_INFINITY, [['a', Number.NEGATIVE_INFINITY], ['b', Number.NaN]])]);
    expect(block.token_logprobs).toEqual([LOGPROB_FLOOR]);
    expect(JSON.parse(JSON.stringify(block)).top_logprobs).toEqual([{ a: LOGPROB_FLOOR, b: LOGPROB_FLOOR }]);
  });

  it('keeps the likelier of two alternatives that decode to the same text', () => {
    const block = new CompletionLogprobsCursor(0).format([token('\ufffd', -3, [['\ufffd', -3], ['x', -3.5], ['\ufffd', -2]])]);
    expect(block.top_logprobs[0]).toEqual({ '\ufffd': -2, x: -3.5 });
  });
});

describe('reading logprobs back', () => {
  it('reads the completions format with alternatives sorted most likely first, whatever the key order', () => {
    const tokens = tokensFromCompletionLogprobs({
      tokens: ['1', ' two'],
      token_logprobs: [-0.5, -1],
      // Integer-like keys come first in a JS object whatever the order they were written in.
      top_logprobs: [{ '2': -3, '1': -0.5, ' one': -1 }, null],
      text_offset: [0, 1],
    });
    expect(tokens).toEqual([
      token('1', -0.5, [['1', -0.5], [' one', -1], ['2', -3]]),
      token(' two', -1),
    ]);
  });

  it("reads llama.cpp's chat-shaped logprobs", () => {
    const tokens = tokensFromContentLogprobs({
      content: [{ token: ' the', logprob: -1.2, top_logprobs: [{ token: ' a', logprob: -2.5 }, { token: ' the', logprob: -1.2 }] }],
    });
    expect(tokens).toEqual([token(' the', -1.2, [[' the', -1.2], [' a', -2.5]])]);
  });
});
