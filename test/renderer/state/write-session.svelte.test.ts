/**
 * The Write controller against the real API service (history in SQLite, the
 * inference client over a FakeEngine), with a fake editor: Continue, the
 * candidate cycle, accept, and where generated text may go.
 */
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../../src/shared/api';
import { AppState } from '../../../src/renderer/src/state/app.svelte';
import { ParamsState } from '../../../src/renderer/src/state/params.svelte';
import { FakeEngine, type FakeEngineOptions } from '../../helpers/fake-engine';
import { FakeEditor } from '../helpers/fake-editor';
import { useRendererBackend } from '../helpers/service-api';

const makeBackend = useRendererBackend();

/** Sequences that differ and depend on the seed, as sampled ones do. */
const distinct: FakeEngineOptions['sequencePieces'] = (sequence, seed) => [` s${seed}`, ` c${sequence}`, ' end.'];

const waitFor = <T>(fn: () => T | Promise<T>) => vi.waitFor(fn, { timeout: 5000, interval: 5 });

/** An app over a fresh back end holding `documents` (the last one is opened), with a fake editor. */
async function startApp(documents: { title: string; content: string }[] = [{ title: 'Story', content: 'The keeper climbed the stairs.' }], engine: FakeEngineOptions = { sequencePieces: distinct }) {
  const backend = makeBackend({ engine: () => new FakeEngine(engine) });
  const ids: number[] = [];
  for (const doc of documents) ids.push((await backend.api.call('documents.create', doc)).id);
  const app = new AppState(backend.api);
  const editor = new FakeEditor();
  editor.onChange = (text) => app.write.editText(text);
  app.write.attachEditor(editor);
  await app.start();
  return { app, session: app.write, editor, backend, ids };
}

const historyEntry = async (backend: { api: AppState['api'] }, id: number) => backend.api.call('history.get', { id });

describe('WriteSession', () => {
  it('continues from the cursor, streams candidates, cycles, and accepts as one undo step recorded in history', async () => {
    const { session, editor, backend } = await startApp();
    const before = editor.text;
    session.params.setNumber('numReturnSequences', 3);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    expect(session.candidates.cards).toHaveLength(3);
    expect(session.ghostText).toBe(session.candidates.cards[0]!.text);
    expect([session.cycle(1), session.cycle(1), session.cycle(1)]).toEqual([true, true, true]);
    expect(session.candidates.selected).toBe(0);
    session.cycle(-1);
    const chosen = session.candidates.cards[2]!.text;
    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(before + chosen);
    expect(editor.undoStack).toEqual([before]);
    expect(session.candidates.phase).toBe('idle');
    expect(session.ghostText).toBeNull();
    const [latest] = (await backend.api.call('history.list', {})).entries;
    await waitFor(async () => expect((await historyEntry(backend, latest!.id)).acceptedIndex).toBe(2));
  });

  it('sends memory and the author’s note as composePrompt builds them', async () => {
    const { app, session, editor, backend } = await startApp();
    editor.load('line one\nline two\nline three');
    app.write.documents.setMemory('Remember the lighthouse.');
    app.write.documents.setAuthorsNote('eerie');
    await session.continue();
    await waitFor(() => expect(backend.spawner.spawned[0]?.engine.calls.some((c) => c.method === 'generate')).toBe(true));
    const generate = backend.spawner.spawned[0]!.engine.calls.find((c) => c.method === 'generate')!;
    expect(generate.args[0]).toMatchObject({
      modelId: 'tiny',
      memory: 'Remember the lighthouse.\n\n',
      prompt: "[Author's note: eerie]\nline one\nline two\nline three",
    });
  });

  it('Retry reproduces the candidates with a locked seed, and the seed each run used is shown', async () => {
    const { session } = await startApp();
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const used = session.run?.seed ?? null;
    expect(used).not.toBeNull();
    expect(session.params.lastUsedSeed).toBe(used);
    session.params.lockSeed();
    expect(session.params.lockedSeed).toBe(used);
    session.params.setSeed(1234);
    await session.retry();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const first = session.candidates.cards.map((c) => c.text);
    expect(first[0]).toContain('s1234');
    await session.retry();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    expect(session.candidates.cards.map((c) => c.text)).toEqual(first);
    expect(session.run?.seed).toBe(1234);
    expect(session.params.lastUsedSeed).toBe(1234);
    session.params.unlockSeed();
    expect(session.params.request().seed).toBeUndefined();
  });

  it('greedy decoding is sent as doSample false with one sequence; a temperature of 0 turns it on instead of becoming 0.05', () => {
    const params = new ParamsState({ api: makeBackend().api, models: () => [], defaultModelId: () => null, onChooseModel: () => {} });
    const temperature = params.values.temperature;
    params.setNumber('temperature', 0);
    expect(params.greedy).toBe(true);
    expect(params.values.temperature).toBe(temperature);
    expect(params.request()).toMatchObject({ doSample: false, numReturnSequences: 1 });
    params.setGreedy(false);
    expect(params.request()).toMatchObject({ doSample: true, numReturnSequences: params.values.numReturnSequences });
    params.setNumber('noRepeatNgramSize', 3);
    expect(params.request().noRepeatNgramSize).toBe(3);
  });

  it('Stop keeps what streamed; accepting mid-stream cancels and records the accept once done', async () => {
    const { session, backend } = await startApp(undefined, { pieces: Array.from({ length: 200 }, (_, i) => ` w${i}`), stepMs: 5 });
    await session.continue();
    await waitFor(() => expect(session.candidates.canAccept).toBe(true));
    await session.stop();
    await waitFor(() => expect(session.candidates.phase).toBe('stopped'));
    expect(session.candidates.cards.some((c) => c.text.length > 0)).toBe(true);

    await session.continue();
    await waitFor(() => expect(session.candidates.canAccept).toBe(true));
    expect(session.accept()).toBe(true);
    const latest = async () => (await backend.api.call('history.list', {})).entries[0];
    await waitFor(async () => expect((await latest())?.acceptedIndex).toBe(0));
    expect((await latest())!.candidates[0]!.finishReason).toBe('cancelled');
  });

  it('Escape dismisses finished candidates and reports whether it did anything', async () => {
    const { session } = await startApp();
    expect(session.escape()).toBe(false);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    expect(session.escape()).toBe(true);
    expect(session.candidates.phase).toBe('idle');
  });

  it('autosaves edits to the open document, and Ctrl+S writes at once and says when', async () => {
    const { session, editor, backend } = await startApp();
    const id = session.documents.id!;
    editor.moveTo(editor.text.length);
    editor.type(' A new line.');
    expect(await session.documents.saveNow()).toBe('saved');
    expect((await backend.api.call('documents.get', { id })).content).toBe('The keeper climbed the stairs. A new line.');
    expect(session.documents.savedAt).not.toBeNull();
    expect(session.documents.words).toBe(8);
    editor.type('!');
    expect(session.documents.savedAt).toBeNull();
  });

  it('creates a document on the first edit when none is open', async () => {
    const { session, editor, backend } = await startApp([]);
    expect(session.documents.id).toBeNull();
    expect(await session.documents.saveNow()).toBe('nothing');
    editor.type('First words');
    await session.documents.flush();
    const docs = await backend.api.call('documents.list', {});
    expect(docs).toHaveLength(1);
    expect(session.documents.id).toBe(docs[0]!.id);
  });

  it('generates marketing copy from a few-shot template and inserts only the cleaned line', async () => {
    const { session, editor, backend } = await startApp(undefined, { pieces: [' Brewed', ' slow.', '\n', 'Product:'] });
    session.template.choose('tagline');
    session.template.setField('product', 'small-batch coffee');
    session.template.setField('audience', 'remote workers');
    await session.generateFromTemplate();
    expect(session.message).toMatch(/tone/);
    session.template.setField('tone', 'warm');
    const before = editor.text;
    await session.generateFromTemplate();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const generate = backend.spawner.spawned[0]!.engine.calls.find((c) => c.method === 'generate')!.args[0] as { prompt: string; memory: string; params: { stop: string[]; numReturnSequences: number } };
    expect(generate).toMatchObject({ memory: '', params: { stop: ['\n'], numReturnSequences: 5 } });
    expect(generate.prompt.endsWith('Product: small-batch coffee\nAudience: remote workers\nTone: warm\nTagline:')).toBe(true);
    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(`${before}Brewed slow.`);
  });

  it('a start refused as busy leaves no empty cards: the candidates shown before come back, and it says so', async () => {
    const { app, session, backend } = await startApp();
    session.params.setNumber('numReturnSequences', 2);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const before = session.candidates.cards.map((c) => c.text);
    const call = backend.api.call;
    backend.api.call = ((method, params) =>
      method === 'generate.start' ? Promise.reject(new ApiError('busy', 'Inkwell is busy: 16 sequence(s) are being generated; try again when one finishes')) : call(method, params)) as typeof call;
    await session.continue();
    expect(session.candidates.cards.map((c) => c.text)).toEqual(before);
    expect(session.candidates.phase).toBe('done');
    expect(session.message).toMatch(/nothing was generated/);
    expect(app.notices.filter((n) => n.tone === 'warning' && /^Inkwell is busy/.test(n.message))).toHaveLength(1);
  });

  it('explains instead of failing when no model is imported', async () => {
    const backend = makeBackend();
    backend.models.models.clear();
    const app = new AppState(backend.api);
    app.write.attachEditor(new FakeEditor());
    await app.start();
    await app.write.continue();
    expect(app.write.message).toMatch(/import one/);
    expect(app.notices.some((n) => n.key === 'no-model')).toBe(true);
  });
});

describe('WriteSession puts generated text only where the writer asked', () => {
  it('candidates belong to their document: another one shows none and Tab inserts nothing there; they wait with their own', async () => {
    const { session, editor, ids } = await startApp([
      { title: 'A', content: 'Alpha text.' },
      { title: 'B', content: 'Beta text.' },
    ]);
    await session.documents.open(ids[0]!);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const alphaGhost = session.ghostText;

    await session.documents.open(ids[1]!);
    expect(editor.text).toBe('Beta text.');
    expect(session.candidates.phase).toBe('idle');
    expect(session.ghostText).toBeNull();
    expect(session.accept()).toBe(false);
    expect(editor.text).toBe('Beta text.');
    expect(session.elsewhere).toMatchObject({ documentId: ids[0], title: 'A', count: 3 });

    await session.documents.open(ids[0]!);
    expect(session.candidates.phase).toBe('done');
    expect(session.ghostText).toBe(alphaGhost);
    expect(editor.anchor()).toBe('Alpha text.'.length);
    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(`Alpha text.${alphaGhost}`);
  });

  it('switching documents while candidates stream leaves the other document idle, and the stream finishes with its own', async () => {
    let release = (): void => {};
    const hold = new Promise<void>((resolve) => (release = resolve));
    const backend = makeBackend({
      engine: () => {
        const engine = new FakeEngine({ sequencePieces: distinct });
        engine.holdAfterFirstDelta = hold;
        return engine;
      },
    });
    const a = await backend.api.call('documents.create', { title: 'A', content: 'Alpha.' });
    const b = await backend.api.call('documents.create', { title: 'B', content: 'Beta.' });
    const app = new AppState(backend.api);
    const editor = new FakeEditor();
    editor.onChange = (text) => app.write.editText(text);
    app.write.attachEditor(editor);
    await app.start();
    const session = app.write;
    await session.documents.open(a.id);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('streaming'));

    await session.documents.open(b.id);
    expect(session.candidates.phase).toBe('idle');
    expect(session.candidates.running).toBe(false);
    expect(session.elsewhere).toMatchObject({ documentId: a.id, running: true });
    release();
    await waitFor(() => expect(session.elsewhere?.running).toBe(false));

    await session.documents.open(a.id);
    expect(session.candidates.phase).toBe('done');
    expect(session.candidates.cards[0]!.text).toContain('end.');
  });

  it('typing at the anchor makes the candidates stale: no ghost, Tab refuses them; undoing the typing brings them back', async () => {
    const { session, editor } = await startApp();
    const base = editor.text;
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const ghost = session.ghostText;
    editor.type(' Then');
    expect(session.stale).toBe(true);
    expect(session.ghostText).toBeNull();
    expect(session.canAccept).toBe(false);
    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(`${base} Then`);
    expect(session.message).toMatch(/changed/);
    expect(session.cycle(1)).toBe(false);

    editor.undo();
    expect(session.stale).toBe(false);
    expect(session.ghostText).toBe(ghost);
    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(base + ghost);
  });

  it('an edit after the anchor keeps the candidates; one before it makes them stale', async () => {
    const { session, editor } = await startApp([{ title: 'Mid', content: 'Start. Middle. End.' }]);
    editor.moveTo('Start.'.length);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    editor.moveTo(editor.text.length);
    editor.type(' More.');
    expect(session.stale).toBe(false);
    editor.moveTo(2);
    editor.type('x');
    expect(session.stale).toBe(true);
  });

  it('Retry of stale candidates continues afresh from the cursor instead of repeating the old request', async () => {
    const { session, editor, backend } = await startApp();
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    editor.type(' Then');
    await session.retry();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const prompts = backend.spawner.spawned[0]!.engine.calls.filter((c) => c.method === 'generate').map((c) => (c.args[0] as { prompt: string }).prompt);
    expect(prompts.at(-1)).toBe('The keeper climbed the stairs. Then');
    expect(session.stale).toBe(false);
  });

  it('undo of an accept restores the candidate set and un-marks it in history; take #1, undo, take #2; redo takes it again', async () => {
    const { session, editor, backend } = await startApp();
    const base = editor.text;
    session.params.setNumber('numReturnSequences', 2);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    const [first, second] = session.candidates.cards.map((c) => c.text);
    const latestId = async () => (await backend.api.call('history.list', {})).entries[0]!.id;
    const accepted = async () => (await historyEntry(backend, await latestId())).acceptedIndex;

    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(base + first);
    await waitFor(async () => expect(await accepted()).toBe(0));

    editor.undo();
    expect(editor.text).toBe(base);
    expect(session.candidates.cards.map((c) => c.text)).toEqual([first, second]);
    expect(session.ghostText).toBe(first);
    expect(editor.anchor()).toBe(base.length);
    await waitFor(async () => expect(await accepted()).toBeNull());

    session.cycle(1);
    expect(session.accept()).toBe(true);
    expect(editor.text).toBe(base + second);
    await waitFor(async () => expect(await accepted()).toBe(1));

    editor.undo();
    await waitFor(async () => expect(await accepted()).toBeNull());
    editor.redo();
    expect(session.candidates.phase).toBe('idle');
    await waitFor(async () => expect(await accepted()).toBe(1));
  });

  it('deleting a document drops the candidates that waited with it', async () => {
    const { session, ids } = await startApp([
      { title: 'Gone', content: 'To be deleted.' },
      { title: 'Stays', content: 'Still here.' },
    ]);
    await session.documents.open(ids[0]!);
    await session.continue();
    await waitFor(() => expect(session.candidates.phase).toBe('done'));
    await session.documents.open(ids[1]!);
    expect(session.elsewhere?.documentId).toBe(ids[0]);
    await session.documents.remove(ids[0]!);
    expect(session.elsewhere).toBeNull();
  });
});
