import { describe, expect, it, vi } from 'vitest';
import { createMockApi, type MockApi } from '../../../src/renderer/src/api/mock';
import { AppState } from '../../../src/renderer/src/state/app.svelte';
import type { EditorPort } from '../../../src/renderer/src/state/write.svelte';

/** A stand-in for the CodeMirror component: plain text, a cursor, an anchor and an undo stack. */
class FakeEditor implements EditorPort {
  text = '';
  cursor = 0;
  anchor: number | null = null;
  readonly undoStack: string[] = [];

  load(text: string): void {
    this.text = text;
    this.cursor = text.length;
    this.undoStack.length = 0;
  }
  snapshot(): { text: string; cursor: number } {
    return { text: this.text, cursor: this.cursor };
  }
  markAnchor(): void {
    this.anchor = this.cursor;
  }
  insertAtAnchor(text: string): void {
    const at = this.anchor ?? this.cursor;
    this.undoStack.push(this.text);
    this.text = this.text.slice(0, at) + text + this.text.slice(at);
    this.cursor = at + text.length;
    this.anchor = null;
  }
  focus(): void {}
}

async function startApp(): Promise<{ app: AppState; api: MockApi; editor: FakeEditor }> {
  const api = createMockApi({ sampleData: true, tokenDelayMs: 1, callDelayMs: 0 });
  const app = new AppState(api);
  const editor = new FakeEditor();
  app.write.attachEditor(editor);
  await app.start();
  return { app, api, editor };
}

const waitFor = <T>(fn: () => T) => vi.waitFor(fn, { timeout: 5000, interval: 5 });

describe('WriteSession (over the mock API)', () => {
  it('continues from the cursor, streams candidates, cycles, and accepts as one undo step recorded in history', async () => {
    const { app, api, editor } = await startApp();
    const session = app.write;
    expect(editor.text).toContain('The Lighthouse Keeper');
    const before = editor.text;
    session.params.setNumber('numReturnSequences', 3);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    expect(session.candidates.cards).toHaveLength(3);
    expect(session.ghostText).toBe(session.candidates.cards[0]!.text);
    expect(session.cycle(1)).toBe(true);
    expect(session.cycle(1)).toBe(true);
    expect(session.cycle(1)).toBe(true);
    expect(session.candidates.selected).toBe(0);
    session.cycle(-1);
    const chosen = session.candidates.cards[2]!.text;
    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(before + chosen);
    expect(editor.undoStack).toEqual([before]);
    expect(session.candidates.phase).toBe('idle');
    expect(session.ghostText).toBeNull();
    const page = await api.call('history.list', {});
    await waitFor(async () => expect((await api.call('history.get', { id: page.entries[0]!.id })).acceptedIndex).toBe(2));
  });

  it('sends memory and the author’s note as composePrompt builds them', async () => {
    const { app, api, editor } = await startApp();
    const spy = vi.spyOn(api, 'call');
    editor.load('line one\nline two\nline three');
    app.write.documents.setMemory('Remember the lighthouse.');
    app.write.documents.setAuthorsNote('eerie');
    await app.write.continue();
    const start = spy.mock.calls.find(([method]) => method === 'generate.start');
    expect(start?.[1]).toMatchObject({
      modelId: 'gpt2',
      memory: 'Remember the lighthouse.\n\n',
      prompt: "[Author's note: eerie]\nline one\nline two\nline three",
    });
  });

  it('Retry reproduces the candidates with a locked seed and varies them without', async () => {
    const { app } = await startApp();
    const session = app.write;
    session.params.setSeed(1234);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const first = session.candidates.cards.map((c) => c.text);
    await session.retry();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    expect(session.candidates.cards.map((c) => c.text)).toEqual(first);
    expect(session.run?.seed).toBe(1234);
    session.params.setSeedLocked(false);
    await session.retry();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    expect(session.run?.seed).not.toBe(1234);
  });

  it('Stop keeps what streamed; accepting mid-stream cancels and records the accept once done', async () => {
    const api = createMockApi({ sampleData: true, tokenDelayMs: 20, callDelayMs: 0 });
    const app = new AppState(api);
    const editor = new FakeEditor();
    app.write.attachEditor(editor);
    await app.start();
    const session = app.write;
    session.params.setNumber('maxNewTokens', 200);
    await session.continue();
    await waitFor(() => expect(session.candidates.canAccept).toBe(true));
    await session.stop();
    await waitFor(() => expect(session.candidates.phase).toBe('stopped'));
    expect(session.candidates.cards.some((c) => c.text.length > 0)).toBe(true);

    await session.continue();
    await waitFor(() => expect(session.candidates.canAccept).toBe(true));
    expect(session.accept()).toBe(true);
    const latest = async () => (await api.call('history.list', {})).entries[0]!;
    await waitFor(async () => expect((await latest()).acceptedIndex).toBe(0));
    expect((await latest()).candidates[0]!.finishReason).toBe('cancelled');
  });

  it('Escape dismisses finished candidates and reports whether it did anything', async () => {
    const { app } = await startApp();
    const session = app.write;
    expect(session.escape()).toBe(false);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    expect(session.escape()).toBe(true);
    expect(session.candidates.phase).toBe('idle');
  });

  it('autosaves edits to the open document', async () => {
    const { app, api } = await startApp();
    const id = app.write.documents.id!;
    app.write.documents.editText('A new beginning.');
    await app.write.documents.flush();
    expect((await api.call('documents.get', { id })).content).toBe('A new beginning.');
    expect(app.write.documents.saveState).toBe('saved');
  });

  it('creates a document on the first edit when none is open', async () => {
    const api = createMockApi({ callDelayMs: 0 });
    const app = new AppState(api);
    app.write.attachEditor(new FakeEditor());
    await app.start();
    expect(app.write.documents.id).toBeNull();
    app.write.documents.editText('First words');
    await app.write.documents.flush();
    const docs = await api.call('documents.list', {});
    expect(docs).toHaveLength(1);
    expect(app.write.documents.id).toBe(docs[0]!.id);
  });

  it('generates marketing copy from a few-shot template and inserts only the cleaned line', async () => {
    const { app, api, editor } = await startApp();
    const spy = vi.spyOn(api, 'call');
    const session = app.write;
    session.template.choose('tagline');
    session.template.setField('product', 'small-batch coffee');
    session.template.setField('audience', 'remote workers');
    await session.generateFromTemplate();
    expect(session.message).toMatch(/tone/);
    session.template.setField('tone', 'warm');
    const before = editor.text;
    await session.generateFromTemplate();
    const start = spy.mock.calls.filter(([method]) => method === 'generate.start').at(-1);
    expect(start?.[1]).toMatchObject({ memory: '', params: { stop: ['\n'], numReturnSequences: 5 } });
    expect((start?.[1] as { prompt: string }).prompt.endsWith('Product: small-batch coffee\nAudience: remote workers\nTone: warm\nTagline:')).toBe(true);
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const raw = session.candidates.current!.text;
    expect(raw.startsWith(' ')).toBe(true);
    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(before + raw.trim());
  });

  it('re-runs a history entry with its model, parameters, memory and locked seed', async () => {
    const { app, api } = await startApp();
    const spy = vi.spyOn(api, 'call');
    const entry = { ...(await api.call('history.get', { id: 2 })), memory: 'Remembered.\n\n' };
    app.showPage('history');
    await app.history.rerun(entry);
    expect(app.page).toBe('write');
    expect(app.write.source).toEqual({ kind: 'rerun', historyId: 2 });
    expect(app.write.params.seedLocked).toBe(true);
    expect(app.write.params.model?.id).toBe('gpt2-large');
    const start = spy.mock.calls.find(([method]) => method === 'generate.start');
    expect(start?.[1]).toMatchObject({ modelId: 'gpt2-large', prompt: entry.prompt, memory: 'Remembered.\n\n', params: { seed: entry.seed } });
    await waitFor(() => expect(app.write.candidates.phase).toBe('done'));
    expect(app.write.run?.seed).toBe(entry.seed);
  });

  it('explains instead of failing when no model is imported', async () => {
    const api = createMockApi({ callDelayMs: 0 });
    const app = new AppState(api);
    app.write.attachEditor(new FakeEditor());
    await app.start();
    await app.write.continue();
    expect(app.write.message).toMatch(/import one/);
    expect(app.notices.some((n) => n.key === 'no-model')).toBe(true);
  });
});
