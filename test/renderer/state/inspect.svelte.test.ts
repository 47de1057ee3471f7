/**
 * The Inspect page's state with a remote model chosen on the Write page (issue 11): it says so in its
 * own words, naming the remote model and offering the local models, asks the back end for nothing
 * until one is picked, and then inspects with the local model picked.
 */
import { describe, expect, it, vi } from 'vitest';
import { InspectState } from '../../../src/renderer/src/state/inspect.svelte';
import { GenerationParams } from '../../../src/shared/api';

function setup(chosen: () => string | null, local: () => readonly string[]) {
  const call = vi.fn(async () => {
    throw new Error('no call expected');
  });
  const inspect = new InspectState({
    api: { call } as never,
    generations: { start: vi.fn() } as never,
    reporter: { notify: vi.fn(), reportError: vi.fn() },
    documentText: () => 'The lighthouse keeper',
    sentPrompt: () => 'The lighthouse keeper',
    modelId: chosen,
    localModels: local,
    params: () => GenerationParams.parse({}),
    show: vi.fn(),
  });
  return { inspect, call };
}

describe('InspectState with a remote model chosen', () => {
  it('names the remote model, says why it cannot be inspected and offers the local models instead of running anything', () => {
    const { inspect } = setup(() => 'remote:lab/gpt2-large', () => ['gpt2', 'distilgpt2']);
    expect(inspect.remoteModel).toBe('remote:lab/gpt2-large');
    expect(inspect.modelId).toBeNull();
    expect(inspect.remoteMessage).toMatch(/^remote:lab\/gpt2-large is a remote model: its server sends back only text, so attention, the logit lens/);
    expect(inspect.remoteMessage).toMatch(/Inspect the text with a local model instead:$/);
    expect(inspect.localModels).toEqual(['gpt2', 'distilgpt2']);
  });

  it('inspects with the local model picked, and asks again when that model is gone', () => {
    let local = ['gpt2', 'distilgpt2'];
    const { inspect } = setup(() => 'remote:lab/gpt2-large', () => local);
    inspect.useLocalModel('distilgpt2');
    expect(inspect.modelId).toBe('distilgpt2');
    expect(inspect.remoteMessage).toBeNull();
    local = ['gpt2'];
    expect(inspect.modelId).toBeNull();
    expect(inspect.remoteMessage).toContain('remote:lab/gpt2-large is a remote model');
  });

  it('with no local model at all, points to the Models page', () => {
    const { inspect } = setup(() => 'remote:lab/gpt2-large', () => []);
    expect(inspect.remoteMessage).toMatch(/Import a model on the Models page to inspect text\.$/);
  });

  it('a local model chosen on the Write page is inspected as before, with no message', () => {
    const { inspect } = setup(() => 'gpt2', () => ['gpt2']);
    expect(inspect.remoteModel).toBeNull();
    expect(inspect.modelId).toBe('gpt2');
    expect(inspect.remoteMessage).toBeNull();
  });
});
