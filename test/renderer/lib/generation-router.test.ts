import { describe, expect, it } from 'vitest';
import type { GenerationEvent, InkwellApi } from '../../../src/shared/api';
import { GenerationRouter } from '../../../src/renderer/src/lib/generation-router';

/** An API whose generate.start answers only when the test says so, so events can race ahead of it. */
function racingApi(): { api: InkwellApi; answer: (id: string) => void; cancelled: string[] } {
  let answer: (id: string) => void = () => {};
  const cancelled: string[] = [];
  const api = {
    call: (method: string, params: { generationId?: string }) => {
      if (method === 'generate.start') return new Promise((resolve) => (answer = (generationId) => resolve({ generationId })));
      if (method === 'generate.cancel') {
        cancelled.push(params.generationId ?? '');
        return Promise.resolve({ cancelled: true });
      }
      return Promise.reject(new Error(`unexpected ${method}`));
    },
    subscribe: () => () => {},
  } as unknown as InkwellApi;
  return { api, answer: (id) => answer(id), cancelled };
}

const request = { modelId: 'tiny', prompt: 'Hello', params: {} };
const delta = (generationId: string, text: string): GenerationEvent => ({ type: 'delta', generationId, sequence: 0, text });

describe('GenerationRouter', () => {
  it('replays events that arrived before generate.start answered, in order', async () => {
    const { api, answer } = racingApi();
    const router = new GenerationRouter(api);
    const seen: string[] = [];
    const started = router.start(request, (e) => seen.push(e.type === 'delta' ? e.text : e.type));
    router.dispatch(delta('g1', 'a'));
    router.dispatch(delta('g1', 'b'));
    answer('g1');
    await expect(started).resolves.toBe('g1');
    router.dispatch(delta('g1', 'c'));
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('keeps other generations apart and stops delivering after done', async () => {
    const { api, answer } = racingApi();
    const router = new GenerationRouter(api);
    const seen: string[] = [];
    const started = router.start(request, (e) => seen.push(e.type === 'delta' ? e.text : e.type));
    answer('mine');
    await started;
    router.dispatch(delta('other', 'x'));
    router.dispatch(delta('mine', 'y'));
    router.dispatch({ type: 'error', generationId: 'mine', error: { kind: 'cancelled', message: 'stop' } });
    router.dispatch(delta('mine', 'late'));
    expect(seen).toEqual(['y', 'error']);
  });

  it('forget stops delivery; cancel asks the back end', async () => {
    const { api, answer, cancelled } = racingApi();
    const router = new GenerationRouter(api);
    const seen: string[] = [];
    const started = router.start(request, () => seen.push('event'));
    answer('g');
    await started;
    await router.cancel('g');
    router.forget('g');
    router.dispatch(delta('g', 'x'));
    expect(cancelled).toEqual(['g']);
    expect(seen).toEqual([]);
  });
});
