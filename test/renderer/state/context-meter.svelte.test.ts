import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ModelSummary } from '../../../src/shared/api';
import { ContextMeterState } from '../../../src/renderer/src/state/context-meter.svelte';
import { useRendererBackend } from '../helpers/service-api';

const makeBackend = useRendererBackend();

afterEach(() => {
  vi.useRealTimers();
});

describe('ContextMeterState', () => {
  it('tokenizes the memory again only when the memory or the model changes', async () => {
    const backend = makeBackend();
    backend.models.models.set('other', { ...backend.models.get('tiny'), id: 'other' });
    const [tiny] = await backend.api.call('models.list', {});
    const model: ModelSummary = tiny!;
    const meter = new ContextMeterState({ api: backend.api, model: () => model, maxNewTokens: () => 40 });
    const tokenized = () => backend.spawner.spawned.flatMap((p) => p.engine.calls.filter((c) => c.method === 'tokenize').map((c) => c.args[1]));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const measure = async (input: { modelId: string; memory: string; prompt: string }) => {
      meter.request(input);
      await vi.advanceTimersByTimeAsync(1000);
      await vi.waitFor(() => expect(meter.measuring).toBe(false));
    };

    await measure({ modelId: 'tiny', memory: 'one two three', prompt: 'a b' });
    expect(meter.usage).toMatchObject({ memoryTokens: 3 });
    expect(tokenized()).toEqual(['one two three', 'a b']);

    await measure({ modelId: 'tiny', memory: 'one two three', prompt: 'a b c d' });
    expect(tokenized()).toEqual(['one two three', 'a b', 'a b c d']);
    expect(meter.usage).toMatchObject({ memoryTokens: 3 });

    await measure({ modelId: 'tiny', memory: 'one two three four', prompt: 'a b c d' });
    expect(tokenized()).toEqual(['one two three', 'a b', 'a b c d', 'one two three four', 'a b c d']);
    expect(meter.usage).toMatchObject({ memoryTokens: 4 });

    await measure({ modelId: 'other', memory: 'one two three four', prompt: 'a b c d' });
    expect(tokenized()).toEqual(['one two three', 'a b', 'a b c d', 'one two three four', 'a b c d', 'one two three four', 'a b c d']);
  });
});
