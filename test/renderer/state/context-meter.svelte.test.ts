import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ModelSummary } from '../../../src/shared/api';
import type { AppState } from '../../../src/renderer/src/state/app.svelte';
import { ContextMeterState } from '../../../src/renderer/src/state/context-meter.svelte';

const model = { id: 'gpt2', nPositions: 1024 } as ModelSummary;

/** A meter over a fake API whose tokenizer gives one token per character. */
function makeMeter() {
  const tokenized: string[] = [];
  const call = vi.fn(async (method: string, params: { text: string }) => {
    expect(method).toBe('tokenize');
    tokenized.push(params.text);
    return { ids: [...params.text].map((_, i) => i), tokens: [...params.text] };
  });
  const app = { api: { call } } as unknown as AppState;
  return { meter: new ContextMeterState(app, () => model, () => 40), tokenized };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ContextMeterState', () => {
  it('tokenizes the memory again only when the memory or the model changes', async () => {
    vi.useFakeTimers();
    const { meter, tokenized } = makeMeter();
    meter.request({ modelId: 'gpt2', memory: 'MEM', prompt: 'ab' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(meter.usage).toMatchObject({ memoryTokens: 3 });
    expect(tokenized).toEqual(['MEM', 'ab']);

    meter.request({ modelId: 'gpt2', memory: 'MEM', prompt: 'abcd' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(tokenized).toEqual(['MEM', 'ab', 'abcd']);
    expect(meter.usage).toMatchObject({ memoryTokens: 3 });

    meter.request({ modelId: 'gpt2', memory: 'MEMO', prompt: 'abcd' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(tokenized).toEqual(['MEM', 'ab', 'abcd', 'MEMO', 'abcd']);
    expect(meter.usage).toMatchObject({ memoryTokens: 4 });

    meter.request({ modelId: 'other', memory: 'MEMO', prompt: 'abcd' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(tokenized).toEqual(['MEM', 'ab', 'abcd', 'MEMO', 'abcd', 'MEMO', 'abcd']);
  });
});
