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

describe('InspectState opening a remote candidate', () => {
  it("colours the server's own tokens by the log-probabilities it returned, with no call to the back end", () => {
    const { inspect, call } = setup(() => 'remote:lab/gpt2-large', () => ['gpt2']);
    const texts = [' was', ' a', ' café', ' owner'];
    const logprobs = [-1.9237, -1.1302, -7.4113, -3.0216];
    inspect.openGeneration('Candidate 1', { modelId: 'remote:lab/gpt2-large', memory: '', prompt: 'The lighthouse keeper', candidate: { text: texts.join(''), tokenIds: [], tokenLogprobs: logprobs, tokenTexts: texts } });
    expect(inspect.view).toBe('probs');
    expect(inspect.stored?.chips.map((c) => c.text)).toEqual(texts);
    expect(inspect.stored?.chips[2]).toMatchObject({ label: '·café', bytes: '20 63 61 66 c3 a9' });
    expect(inspect.stored?.logprobs).toEqual(logprobs);
    expect(inspect.storedNote).toBeNull();
    expect(call).not.toHaveBeenCalled();
  });

  it('says "this server returned no token probabilities" for a remote candidate without them', () => {
    const { inspect } = setup(() => 'remote:lab/gpt2-large', () => ['gpt2']);
    inspect.openGeneration('Candidate 1', { modelId: 'remote:lab/gpt2-large', memory: '', prompt: 'The lighthouse keeper', candidate: { text: ' was a café owner' } });
    expect(inspect.stored).toBeNull();
    expect(inspect.storedNote).toBe('remote:lab/gpt2-large is a remote model, and this server returned no token probabilities for this candidate.');
  });
});
