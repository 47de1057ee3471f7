import { describe, expect, it } from 'vitest';
import type { GenerationEvent, GenerationResult } from '../../src/shared/api';
import { GenerationStates } from '../../src/shared/generation-state';

const started = (generationId: string): GenerationEvent => ({
  type: 'started', generationId, modelId: 'tiny', device: 'cpu', precision: 'fp32', seed: 7, promptTokens: 3, truncatedPromptTokens: 0, numSequences: 2,
});
const result = (generationId: string, texts: string[]): GenerationResult => ({
  generationId, modelId: 'tiny', device: 'cpu', precision: 'fp32', seed: 7, promptTokens: 3, truncatedPromptTokens: 0, historyId: 1,
  sequences: texts.map((text) => ({ text, tokenIds: [1], finishReason: 'length' as const })),
  timings: { loadMs: 0, prefillMs: 1, decodeMs: 2, tokensPerSecond: 3 },
});

describe('GenerationStates', () => {
  it('folds started and deltas into per-sequence text, then the result once done', () => {
    const states = new GenerationStates();
    states.begin('g');
    expect(states.get('g')).toEqual({ generationId: 'g', status: 'running', texts: [] });
    states.record(started('g'));
    states.record({ type: 'delta', generationId: 'g', sequence: 1, text: ' b' });
    states.record({ type: 'delta', generationId: 'g', sequence: 0, text: ' a' });
    states.record({ type: 'delta', generationId: 'g', sequence: 1, text: 'c' });
    expect(states.get('g')).toMatchObject({ status: 'running', texts: [' a', ' bc'], started: { modelId: 'tiny', seed: 7, numSequences: 2 } });
    expect(states.get('g')?.started).not.toHaveProperty('type');
    const done = result('g', [' a!', ' bc!']);
    states.record({ type: 'done', generationId: 'g', result: done });
    expect(states.get('g')).toMatchObject({ status: 'done', texts: [' a!', ' bc!'], result: done });
  });

  it('keeps the text streamed before an error', () => {
    const states = new GenerationStates();
    states.record(started('g'));
    states.record({ type: 'delta', generationId: 'g', sequence: 0, text: ' half' });
    states.record({ type: 'error', generationId: 'g', error: { kind: 'engine_crashed', message: 'stopped' } });
    expect(states.get('g')).toMatchObject({ status: 'error', texts: [' half', ''], error: { kind: 'engine_crashed' } });
  });

  it('hands out copies: a caller cannot change what the next caller sees', () => {
    const states = new GenerationStates();
    states.record(started('g'));
    const copy = states.get('g');
    copy?.texts.push('mine');
    expect(states.get('g')?.texts).toEqual(['', '']);
  });

  it('keeps finished generations 10 minutes, at most 64 (oldest finished out first), and running ones always', () => {
    let now = 0;
    const states = new GenerationStates({ now: () => now });
    states.begin('long-running');
    for (let i = 0; i < 70; i += 1) {
      now += 1;
      states.record({ type: 'error', generationId: `g${i}`, error: { kind: 'cancelled', message: 'x' } });
    }
    expect(states.get('g5')).toBeUndefined();
    expect(states.get('g6')?.status).toBe('error');
    expect(states.get('g69')?.status).toBe('error');
    // g6 finished at t=7 and g69 at t=70; ten minutes later the first has gone, the second not yet.
    now = 7 + 10 * 60_000 + 1;
    expect(states.get('g6')).toBeUndefined();
    expect(states.get('g69')?.status).toBe('error');
    now = 70 + 10 * 60_000 + 1;
    expect(states.get('g69')).toBeUndefined();
    expect(states.get('long-running')?.status).toBe('running');
  });
});
