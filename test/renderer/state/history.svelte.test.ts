/**
 * The History page's state against the real API service: a re-run repeats
 * the entry with its own request and shows the result in History, touching
 * no document; dates that cannot match say so.
 */
import { describe, expect, it, vi } from 'vitest';
import type { GenerationResult } from '../../../src/shared/api';
import { AppState } from '../../../src/renderer/src/state/app.svelte';
import { HistoryState } from '../../../src/renderer/src/state/history.svelte';
import { GenerationRouter } from '../../../src/renderer/src/lib/generation-router';
import { FakeEngine } from '../../helpers/fake-engine';
import { FakeEditor } from '../helpers/fake-editor';
import { useRendererBackend } from '../helpers/service-api';

const makeBackend = useRendererBackend();
const waitFor = <T>(fn: () => T | Promise<T>) => vi.waitFor(fn, { timeout: 5000, interval: 5 });

describe('HistoryState', () => {
  it('re-runs an entry with its model, prompt, memory, parameters, seed and document, and shows the result under it', async () => {
    const backend = makeBackend({ engine: () => new FakeEngine({ sequencePieces: (sequence, seed) => [` seed ${seed}`, ` #${sequence}`] }) });
    const doc = await backend.api.call('documents.create', { title: 'Source', content: 'Once.' });
    const { generationId } = await backend.api.call('generate.start', {
      modelId: 'tiny',
      prompt: 'Once.',
      memory: 'Remembered.\n\n',
      params: { numReturnSequences: 2, maxNewTokens: 7, seed: 77 },
      documentId: doc.id,
    });
    await backend.finished(generationId);
    const [entry] = (await backend.api.call('history.list', {})).entries;

    const router = new GenerationRouter(backend.api);
    backend.service.subscribe((event) => event.channel === 'generation' && router.dispatch(structuredClone(event.event)));
    const done: GenerationResult[] = [];
    const opened: number[] = [];
    const history = new HistoryState({
      api: backend.api,
      generations: router,
      reporter: { notify: vi.fn(), reportError: vi.fn() },
      revision: () => 0,
      nativeFileDialogs: () => false,
      onOpenDocument: async (id) => (opened.push(id), 'opened'),
      onGenerationDone: (result) => done.push(result),
    });
    await history.rerun(entry!);
    await waitFor(() => expect(history.rerunOf(entry!.id)?.candidates.phase).toBe('done'));
    const rerun = history.rerunOf(entry!.id)!;
    expect(rerun.candidates.cards.map((c) => c.text)).toEqual(entry!.candidates.map((c) => c.text));
    expect(rerun.seed).toBe(77);
    expect(done).toHaveLength(1);
    const repeated = await backend.api.call('history.get', { id: rerun.historyId! });
    expect(repeated).toMatchObject({ prompt: 'Once.', memory: 'Remembered.\n\n', seed: 77, documentId: doc.id, params: { maxNewTokens: 7, numReturnSequences: 2 } });

    history.openDocument(entry!);
    expect(opened).toEqual([doc.id]);
    history.dismissRerun(entry!.id);
    expect(history.rerunOf(entry!.id)).toBeNull();
  });

  it('a re-run started from the app leaves the open document and its candidates alone', async () => {
    const backend = makeBackend();
    await backend.api.call('documents.create', { title: 'Other', content: 'The open one.' });
    const app = new AppState(backend.api);
    const editor = new FakeEditor();
    editor.onChange = (text) => app.write.editText(text);
    app.write.attachEditor(editor);
    await app.start();
    const { generationId } = await backend.api.call('generate.start', { modelId: 'tiny', prompt: 'Elsewhere.', params: {} });
    await backend.finished(generationId);
    await app.history.load();
    app.showPage('history');
    await app.history.rerun(app.history.entries[0]!);
    await waitFor(() => expect(app.history.rerunOf(app.history.entries[0]!.id)?.candidates.phase).toBe('done'));
    expect(app.page).toBe('history');
    expect(app.write.candidates.phase).toBe('idle');
    expect(editor.text).toBe('The open one.');
  });

  it('says so when the From date is later than the To date instead of showing an empty list', async () => {
    const backend = makeBackend();
    const history = new HistoryState({
      api: backend.api,
      generations: new GenerationRouter(backend.api),
      reporter: { notify: vi.fn(), reportError: vi.fn() },
      revision: () => 0,
      nativeFileDialogs: () => false,
      onOpenDocument: async () => 'opened',
      onGenerationDone: () => {},
    });
    history.setFilters({ from: '2026-05-02', to: '2026-05-01' });
    await history.load();
    expect(history.error).toMatch(/From date is later than the To date/);
  });
});
