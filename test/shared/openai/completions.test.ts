/**
 * The completions request schema and its mapping onto GenerationParams, one
 * decision per field (used, ignored, neutral-only, refused), and the
 * response, chunk and model-list builders read back through the same schemas
 * the remote client parses with.
 */
import { describe, expect, it } from 'vitest';
import { GenerationParams } from '../../../src/shared/api';
import {
  CompletionResponse,
  DEFAULT_MAX_TOKENS,
  ModelList,
  completionChunk,
  completionResponse,
  modelList,
  parseCompletionRequest,
  usageChunk,
  usageOf,
} from '../../../src/shared/openai/completions';
import { OpenAiError } from '../../../src/shared/openai/errors';

function refusal(body: unknown): OpenAiError {
  try {
    parseCompletionRequest(body);
  } catch (error) {
    if (error instanceof OpenAiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseCompletionRequest', () => {
  it('maps a bare request onto OpenAI defaults, not Inkwell UI defaults', () => {
    const plan = parseCompletionRequest({ prompt: 'Hello' });
    expect(plan).toMatchObject({ model: null, prompts: ['Hello'], n: 1, logprobs: null, echo: false, scoreOnly: false, stream: false, includeUsage: false, user: null, ignoredFields: [] });
    expect(plan.params).toEqual(
      GenerationParams.parse({ maxNewTokens: DEFAULT_MAX_TOKENS, numReturnSequences: 1, doSample: true, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, noRepeatNgramSize: 0, stop: [], device: 'auto' }),
    );
    expect(plan.params.seed).toBeUndefined();
  });

  it('reads temperature below 1e-5 as greedy, as vLLM does, and keeps a valid temperature for the schema', () => {
    expect(parseCompletionRequest({ prompt: 'x', temperature: 0 }).params).toMatchObject({ doSample: false, temperature: 1 });
    expect(parseCompletionRequest({ prompt: 'x', temperature: 0.000001 }).params.doSample).toBe(false);
    expect(parseCompletionRequest({ prompt: 'x', temperature: 0.00001 }).params).toMatchObject({ doSample: true, temperature: 0.00001 });
  });

  it('maps the sampling fields, top_k -1 and 0 both meaning off', () => {
    const plan = parseCompletionRequest({ prompt: 'x', max_tokens: 50, n: 3, temperature: 0.8, top_p: 0.9, top_k: 40, repetition_penalty: 1.3, no_repeat_ngram_size: 3, seed: 4_000_000_000, stop: ['\n\n', '', 'END'] });
    expect(plan.params).toMatchObject({ maxNewTokens: 50, numReturnSequences: 3, temperature: 0.8, topP: 0.9, topK: 40, repetitionPenalty: 1.3, noRepeatNgramSize: 3, seed: 4_000_000_000, stop: ['\n\n', 'END'] });
    expect(parseCompletionRequest({ prompt: 'x', top_k: -1 }).params.topK).toBe(0);
    expect(parseCompletionRequest({ prompt: 'x', stop: '###' }).params.stop).toEqual(['###']);
    expect(parseCompletionRequest({ prompt: 'x', stop: null, seed: null, n: null }).params).toMatchObject({ stop: [], numReturnSequences: 1 });
  });

  it('takes a list of prompts, echo, logprobs, stream options and user', () => {
    const plan = parseCompletionRequest({ prompt: ['a', 'b'], echo: true, logprobs: 5, stream: true, stream_options: { include_usage: true }, user: 'writer-1' });
    expect(plan).toMatchObject({ prompts: ['a', 'b'], echo: true, logprobs: 5, stream: true, includeUsage: true, user: 'writer-1' });
    expect(parseCompletionRequest({ prompt: 'x', logprobs: 20 }).logprobs).toBe(20);
    expect(parseCompletionRequest({ prompt: '' }).prompts).toEqual(['']);
  });

  it('sets numReturnSequences to best_of, and scores the prompt for echo with max_tokens 0', () => {
    expect(parseCompletionRequest({ prompt: 'x', n: 2, best_of: 5 })).toMatchObject({ n: 2, params: { numReturnSequences: 5 } });
    expect(parseCompletionRequest({ prompt: 'x', max_tokens: 0, echo: true })).toMatchObject({ scoreOnly: true, params: { maxNewTokens: 1 } });
  });

  it('names the fields it does not read, and accepts skip_special_tokens and neutral values of unsupported fields', () => {
    const plan = parseCompletionRequest({
      prompt: 'x',
      model: 'gpt2',
      mirostat: 0,
      tfs: 1,
      presence_penalty: 0,
      frequency_penalty: 0,
      logit_bias: {},
      suffix: '',
      min_p: 0,
      typical_p: 1,
      ignore_eos: false,
      skip_special_tokens: false,
      guided_json: null,
    });
    expect(plan.ignoredFields).toEqual(['mirostat', 'tfs']);
  });

  it.each([
    [{ presence_penalty: 0.5 }, 'presence_penalty'],
    [{ frequency_penalty: -1 }, 'frequency_penalty'],
    [{ logit_bias: { '50256': -100 } }, 'logit_bias'],
    [{ suffix: ' the end' }, 'suffix'],
    [{ min_p: 0.05 }, 'min_p'],
    [{ typical_p: 0.9 }, 'typical_p'],
    [{ min_tokens: 5 }, 'min_tokens'],
    [{ ignore_eos: true }, 'ignore_eos'],
    [{ use_beam_search: true }, 'use_beam_search'],
    [{ include_stop_str_in_output: true }, 'include_stop_str_in_output'],
    [{ truncate_prompt_tokens: 100 }, 'truncate_prompt_tokens'],
    [{ prompt_logprobs: 1 }, 'prompt_logprobs'],
    [{ guided_regex: 'a+' }, 'guided_regex'],
    [{ response_format: { type: 'json_object' } }, 'response_format'],
  ])('refuses %j rather than sampling differently from what was asked', (extra, field) => {
    const error = refusal({ prompt: 'x', ...extra });
    expect(error).toMatchObject({ status: 400, param: field, code: 'unsupported_parameter', type: 'invalid_request_error' });
    expect(error.message).toMatch(new RegExp(`^${field} is not supported: .+\\. Leave it out\\.$`));
  });

  it.each([
    [{ prompt: 'x', temperature: 11 }, 'temperature'],
    [{ prompt: 'x', temperature: -1 }, 'temperature'],
    [{ prompt: 'x', top_p: 0 }, 'top_p'],
    [{ prompt: 'x', top_k: -2 }, 'top_k'],
    [{ prompt: 'x', n: 9 }, 'n'],
    [{ prompt: 'x', n: 0 }, 'n'],
    [{ prompt: 'x', max_tokens: 1025 }, 'max_tokens'],
    [{ prompt: 'x', max_tokens: 2.5 }, 'max_tokens'],
    [{ prompt: 'x', seed: -1 }, 'seed'],
    [{ prompt: 'x', seed: 2 ** 32 }, 'seed'],
    [{ prompt: 'x', logprobs: 21 }, 'logprobs'],
    [{ prompt: 'x', logprobs: true }, 'logprobs'],
    [{ prompt: 'x', stop: Array(9).fill('s') }, 'stop'],
    [{ prompt: 'x', stop: ['x'.repeat(65)] }, 'stop.0'],
    [{ prompt: 'x', stream: 'yes' }, 'stream'],
    [{ prompt: [] }, 'prompt'],
    [{ prompt: Array(17).fill('p') }, 'prompt'],
    [{ prompt: 'x'.repeat(1_000_001) }, 'prompt'],
    [{}, 'prompt'],
    [{ prompt: 'x', max_tokens: 0 }, 'max_tokens'],
    [{ prompt: 'x', n: 3, best_of: 2 }, 'best_of'],
    [{ prompt: 'x', best_of: 2, stream: true }, 'best_of'],
    [{ prompt: 'x', stream_options: { include_usage: true } }, 'stream_options'],
  ])('answers 400 for %j, naming %s', (body, param) => {
    expect(refusal(body)).toMatchObject({ status: 400, param, type: 'invalid_request_error' });
  });

  it('refuses token-id prompts with a message that says to send text', () => {
    for (const prompt of [[15496, 995], [[15496], [995]], ['a', [1, 2]]]) {
      expect(refusal({ prompt })).toMatchObject({ status: 400, param: 'prompt', message: expect.stringContaining('send the text') });
    }
  });

  it('refuses a body that is not an object', () => {
    for (const body of [null, 'prompt', [{ prompt: 'x' }], 3]) expect(refusal(body).message).toMatch(/JSON object/);
  });
});

describe('completion responses', () => {
  const identity = { id: 'cmpl-1', created: 1_700_000_000, model: 'gpt2' };

  it('builds a text_completion response the response schema reads back unchanged', () => {
    const body = completionResponse(identity, [{ index: 0, text: ' hi', logprobs: null, finish_reason: 'length' }], usageOf(3, 1));
    expect(body).toEqual({
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1_700_000_000,
      model: 'gpt2',
      choices: [{ index: 0, text: ' hi', logprobs: null, finish_reason: 'length' }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    });
    expect(CompletionResponse.parse(JSON.parse(JSON.stringify(body)))).toEqual(body);
  });

  it('builds stream chunks with one choice and no usage, and a last usage chunk with no choices', () => {
    const chunk = completionChunk(identity, { index: 2, text: ' a', logprobs: null, finish_reason: null });
    expect(chunk).toMatchObject({ object: 'text_completion', choices: [{ index: 2, text: ' a', finish_reason: null }], usage: null });
    expect(usageChunk(identity, usageOf(1, 2))).toMatchObject({ choices: [], usage: { total_tokens: 3 } });
  });

  it('lists models with vLLM\'s max_model_len when the context length is known', () => {
    const list = modelList([
      { id: 'gpt2', created: 5, ownedBy: 'inkwell', contextLength: 1024 },
      { id: 'other', created: 6, ownedBy: 'inkwell' },
    ]);
    expect(list).toEqual({
      object: 'list',
      data: [
        { id: 'gpt2', object: 'model', created: 5, owned_by: 'inkwell', max_model_len: 1024 },
        { id: 'other', object: 'model', created: 6, owned_by: 'inkwell' },
      ],
    });
    expect(ModelList.parse(list)).toEqual(list);
  });
});
