/**
 * Per-server request fields: each server gets the fields that make it sample
 * as Inkwell's parameters say, and a parameter one cannot honour is refused.
 */
import { describe, expect, it } from 'vitest';
import { candidateStrategy, detectServerKind, samplingFields } from '../../../../src/main/engine/remote/server-kinds';
import { GenerationParams } from '../../../../src/shared/api';
import { readRecording } from '../../../helpers/remote-standin';

const off = GenerationParams.parse({ temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1 });
const on = GenerationParams.parse({ temperature: 0.8, topK: 40, topP: 0.9, repetitionPenalty: 1.2 });

describe('samplingFields', () => {
  it('vLLM: top_k -1 for off (accepted by every version), everything explicit', () => {
    expect(samplingFields('vllm', off)).toEqual({ temperature: 0.8, top_p: 1, top_k: -1, repetition_penalty: 1 });
    expect(samplingFields('vllm', on)).toEqual({ temperature: 0.8, top_p: 0.9, top_k: 40, repetition_penalty: 1.2 });
  });

  it("llama.cpp: its own defaults (top_k 40, min_p 0.05, penalty over 64 tokens) overridden", () => {
    expect(samplingFields('llama.cpp', off)).toEqual({ temperature: 0.8, top_p: 1, top_k: 0, min_p: 0, repeat_penalty: 1, repeat_last_n: -1 });
  });

  it('TGI: top_p only below 1, and top_k refused', () => {
    expect(samplingFields('tgi', off)).toEqual({ temperature: 0.8 });
    expect(() => samplingFields('tgi', on)).toThrow(/no top_k/);
    expect(samplingFields('tgi', { ...on, topK: 0 })).toEqual({ temperature: 0.8, top_p: 0.9, repetition_penalty: 1.2 });
  });

  it('OpenAI: neither top_k nor repetition_penalty', () => {
    expect(samplingFields('openai', off)).toEqual({ temperature: 0.8, top_p: 1 });
    expect(() => samplingFields('openai', on)).toThrow(/no top_k or repetition_penalty/);
  });

  it('greedy decoding is temperature 0 everywhere', () => {
    const greedy = GenerationParams.parse({ doSample: false });
    for (const kind of ['vllm', 'llama.cpp', 'tgi', 'openai', 'inkwell', 'generic'] as const) {
      expect(samplingFields(kind, { ...greedy, topK: 0, repetitionPenalty: 1 }).temperature, kind).toBe(0);
    }
  });

  it('only another Inkwell takes the n-gram block', () => {
    const ngram = GenerationParams.parse({ noRepeatNgramSize: 3 });
    expect(samplingFields('inkwell', ngram).no_repeat_ngram_size).toBe(3);
    expect(() => samplingFields('vllm', ngram)).toThrow(/no n-gram block/);
  });
});

describe('detectServerKind and candidateStrategy', () => {
  it('tells vLLM and llama.cpp apart from their recorded model lists', () => {
    expect(detectServerKind(JSON.parse(readRecording('vllm', 'models.json')), 'uvicorn')).toBe('vllm');
    expect(detectServerKind(JSON.parse(readRecording('llama.cpp', 'models.json')), undefined)).toBe('llama.cpp');
    expect(detectServerKind({ data: [{ id: 'x' }] }, 'llama.cpp')).toBe('llama.cpp');
    expect(detectServerKind({ data: [{ id: 'x', owned_by: 'someone' }] }, undefined)).toBeNull();
  });

  it('asks for n where the server implements it, one request per candidate elsewhere', () => {
    expect(['vllm', 'openai', 'inkwell', 'llama.cpp', 'tgi', 'generic'].map((k) => candidateStrategy(k as never))).toEqual(['n', 'n', 'n', 'one-request-per-candidate', 'one-request-per-candidate', 'one-request-per-candidate']);
  });
});
