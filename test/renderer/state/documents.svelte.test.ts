/**
 * The open document and the list, against the real API service: autosave
 * goes to the document it was made in, the list can be searched and sorted,
 * and words are counted.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InkwellApi } from '../../../src/shared/api';
import { DocumentState } from '../../../src/renderer/src/state/documents.svelte';
import { useRendererBackend } from '../helpers/service-api';

const makeBackend = useRendererBackend();

/** The real API, except that saves of `failingId` fail `failures` times (the back end went away for a moment). */
function withFailingSaves(api: InkwellApi, failingId: () => number, failures: number): InkwellApi {
  let left = failures;
  return {
    ...api,
    call: (method, params) => {
      if (method === 'documents.save' && (params as { id: number }).id === failingId() && left > 0) {
        left -= 1;
        return Promise.reject(new Error('the back end is away'));
      }
      return api.call(method, params);
    },
  };
}

afterEach(() => vi.useRealTimers());

describe('DocumentState', () => {
  it('retries a failed save into the document it was made in, never into the one opened since', async () => {
    const backend = makeBackend();
    const first = await backend.api.call('documents.create', { title: 'Doc 1', content: 'first text' });
    const second = await backend.api.call('documents.create', { title: 'Doc 2', content: 'second text' });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const documents = new DocumentState({ api: withFailingSaves(backend.api, () => first.id, 2), reporter: { notify: vi.fn(), reportError: vi.fn() } });
    await documents.open(first.id);
    documents.editText('first text, edited');
    await vi.advanceTimersByTimeAsync(1000);
    expect(documents.saveState).toBe('error');

    await documents.open(second.id);
    expect(documents.id).toBe(second.id);
    expect(documents.text).toBe('second text');
    await vi.advanceTimersByTimeAsync(20_000);
    vi.useRealTimers();
    await vi.waitFor(async () => expect((await backend.api.call('documents.get', { id: first.id })).content).toBe('first text, edited'));
    expect((await backend.api.call('documents.get', { id: second.id })).content).toBe('second text');
  });

  it('filters the list by title words (any case, any accents) and sorts it by title, creation or last edit', async () => {
    const backend = makeBackend();
    for (const title of ['Zebra stories', 'Café notes', 'apple pie', 'Chapter 10', 'Chapter 9']) await backend.api.call('documents.create', { title, content: '' });
    const documents = new DocumentState({ api: backend.api, reporter: { notify: vi.fn(), reportError: vi.fn() } });
    await documents.refreshList();
    const titles = () => documents.shown.map((d) => d.title);
    expect(titles()).toHaveLength(5);
    documents.setQuery('cafe');
    expect(titles()).toEqual(['Café notes']);
    documents.setQuery('chapter');
    documents.setSort('title');
    expect(titles()).toEqual(['Chapter 9', 'Chapter 10']);
    documents.setQuery('');
    expect(titles()).toEqual(['apple pie', 'Café notes', 'Chapter 9', 'Chapter 10', 'Zebra stories']);
    documents.setSort('created');
    expect(titles()[0]).toBe('Chapter 9');
  });
});
