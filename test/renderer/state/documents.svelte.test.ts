import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DocumentFull } from '../../../src/shared/api';
import type { AppState } from '../../../src/renderer/src/state/app.svelte';
import { DocumentState } from '../../../src/renderer/src/state/documents.svelte';

function doc(id: number, content: string): DocumentFull {
  return { id, title: `Doc ${id}`, autoTitle: false, words: content.split(' ').length, content, memory: '', authorsNote: '', chars: content.length, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: `2026-01-0${id}T00:00:00.000Z` };
}

/** A fake back end with two documents whose saves of document 1 fail `failures` times. */
function makeDocuments(failures: number) {
  const docs = new Map([[1, doc(1, 'first text')], [2, doc(2, 'second text')]]);
  const saves: { id: number; content?: string }[] = [];
  let failuresLeft = failures;
  const call = vi.fn(async (method: string, params: Record<string, unknown>) => {
    switch (method) {
      case 'documents.list':
        return [...docs.values()];
      case 'documents.get':
        return docs.get(params.id as number);
      case 'documents.save': {
        const id = params.id as number;
        if (id === 1 && failuresLeft > 0) {
          failuresLeft--;
          throw new Error('the back end is away');
        }
        saves.push({ id, ...(typeof params.content === 'string' ? { content: params.content } : {}) });
        const updated = { ...docs.get(id)!, ...params };
        docs.set(id, updated as DocumentFull);
        return updated;
      }
      default:
        throw new Error(`unexpected ${method}`);
    }
  });
  const app = { api: { call }, reportError: vi.fn() } as unknown as AppState;
  return { documents: new DocumentState(app), saves, docs };
}

describe('DocumentState', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries a failed save into the document it was made in, never into the one opened since', async () => {
    const { documents, saves, docs } = makeDocuments(2);
    await documents.open(1);
    documents.editText('first text, edited');
    await vi.advanceTimersByTimeAsync(1000);
    expect(documents.saveState).toBe('error');

    await documents.open(2);
    expect(documents.id).toBe(2);
    expect(documents.text).toBe('second text');
    await vi.advanceTimersByTimeAsync(20_000);

    expect(saves).not.toContainEqual({ id: 2, content: 'first text, edited' });
    expect(docs.get(2)?.content).toBe('second text');
    expect(saves).toContainEqual({ id: 1, content: 'first text, edited' });
    expect(docs.get(1)?.content).toBe('first text, edited');
  });
});
