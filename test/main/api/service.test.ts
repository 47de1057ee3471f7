import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import type { HistoryPort } from '../../../src/main/api/history-port';
import { ApiError, GenerationParams, Settings, methodNames, type GenerationEvent, type GenerationResult, type MethodName } from '../../../src/shared/api';
import { EngineError } from '../../../src/main/engine/types';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMachine } from '../../../src/main/api/import-path';
import { AdmissionQueue } from '../../../src/main/inference/admission';
import { FakeEngine } from '../../helpers/fake-engine';
import { storedModel, useServiceFixture } from './service-fixture';

const makeService = useServiceFixture();
const params = GenerationParams.parse({ numReturnSequences: 2 });

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected an ApiError');
}

describe('ApiService routing', () => {
  it('implements every method of the contract', async () => {
    const { service, history } = makeService({
      deps: {
        openFile: async () => ({ name: 'a.txt', content: 'A' }),
        saveFile: async (name) => ({ path: `/saved/${name}` }),
        pickFolder: async () => '/picked',
        batchFiles: { pickPrompts: async () => ({ path: '/p.txt' }), pickResults: async () => ({ path: '/r.jsonl' }), reveal: () => {} },
      },
    });
    const doc = history.documents.create('Doc', 'text');
    // Each method with a valid request; none may answer "unknown method" or fail validation.
    const valid: Record<MethodName, unknown> = {
      'app.info': {},
      'models.list': {},
      'models.status': {},
      'models.import': { path: '~/ckpt', id: 'imported' },
      'models.remove': { id: 'tiny' },
      'generate.start': { modelId: 'tiny', prompt: 'Hello', params },
      'generate.cancel': { generationId: 'none' },
      'generate.get': { generationId: 'none' },
      tokenize: { modelId: 'tiny', text: 'a b' },
      'history.list': {},
      'history.get': { id: 1 },
      'history.star': { id: 1, starred: true },
      'history.accept': { id: 1, candidateIndex: 0 },
      'history.delete': { id: 999 },
      'history.export': { format: 'markdown' },
      'documents.list': {},
      'documents.get': { id: doc.id },
      'documents.create': {},
      'documents.save': { id: doc.id, content: 'new text' },
      'documents.delete': { id: 999 },
      'files.open': {},
      'files.save': { suggestedName: 'a.txt', content: 'x' },
      'settings.get': {},
      'settings.set': { theme: 'dark' },
      'models.catalog': {},
      'models.hfCache': {},
      'models.overview': {},
      'models.estimate': { id: 'tiny' },
      'models.startTask': { kind: 'pull', name: 'gpt2' },
      'models.cancelTask': { taskId: 'none' },
      'models.tasks': {},
      'models.unload': { id: 'tiny' },
      'models.removeVariant': { id: 'tiny', precision: 'int8' },
      'models.pickFolder': {},
      'inspect.run': { target: { modelId: 'tiny', text: 'a b' } },
      'inspect.attention': { target: { modelId: 'tiny', text: 'a b' }, layer: 0 },
      'inspect.overview': { target: { modelId: 'tiny', text: 'a b' } },
      'inspect.lens': { target: { modelId: 'tiny', text: 'a b' }, layer: 0 },
      'inspect.probs': { target: { modelId: 'tiny', tokenIds: [1, 2] } },
      'inspect.positional': { modelId: 'tiny' },
      'inspect.tokens': { modelId: 'tiny', text: 'a b' },
      'inspect.wordpiece': { text: 'a b' },
      'inspect.importBertTokenizer': { path: '/' },
      'compare.start': { prompt: 'Hello', columns: [{ modelId: 'tiny' }, { modelId: 'tiny', device: 'cpu' }] },
      'compare.cancel': { comparisonId: 'none' },
      'compare.list': {},
      'compare.get': { id: 1 },
      'compare.delete': { id: 999 },
      'compare.export': { format: 'json' },
      'remoteEngines.list': {},
      'remoteEngines.save': { engine: { name: 'lab', baseUrl: 'http://127.0.0.1:9/v1' } },
      'remoteEngines.remove': { name: 'lab' },
      'remoteEngines.setKey': { name: 'lab', key: 'sk-test' },
      'remoteEngines.deleteKey': { name: 'lab' },
      'remoteEngines.test': { name: 'lab' },
      'remoteEngines.models': {},
      'batch.start': { modelId: 'no-such-model', source: { kind: 'upload', name: 'p.txt', content: 'a\n' }, outPath: '~/r.jsonl', params },
      'batch.cancel': { batchId: 'none' },
      'batch.get': {},
      'batch.preview': { path: '~/none.jsonl' },
      'batch.download': { path: '~/none.jsonl' },
      'batch.pickPrompts': {},
      'batch.pickResults': {},
      'batch.reveal': { path: '/r.jsonl' },
    };
    expect(Object.keys(valid).sort()).toEqual([...methodNames].sort());
    for (const method of methodNames) {
      try {
        await service.handle(method, valid[method]);
      } catch (error) {
        expect(error, method).toBeInstanceOf(ApiError);
        // history entry 1 does not exist yet (the generation above runs in the background)
        expect(['not_found'], `${method}: ${(error as Error).message}`).toContain((error as ApiError).kind);
      }
    }
  });

  it('routes app, models, tokenize and settings to the right parts', async () => {
    const { service, spawner, models } = makeService();
    expect(await service.handle('app.info', {})).toEqual({ version: '9.9.9', dataDir: '/data', transport: 'http', nativeFileDialogs: false, notices: [] });
    expect(await service.handle('models.list', {})).toEqual([
      { id: 'tiny', name: 'tiny (1K)', nLayer: 2, nEmbd: 32, nHead: 2, nPositions: 64, vocabSize: 50257, parameters: 1234, dtype: 'F32', sizeBytes: 5678, importedAt: '2024-05-01T10:00:00.000Z' },
    ]);
    expect(await service.handle('tokenize', { modelId: 'tiny', text: 'a b' })).toEqual({ ids: [0, 1], tokens: ['a', ' b'] });
    expect(await service.handle('models.import', { path: 'ckpt', id: 'fresh' })).toMatchObject({ id: 'fresh', nLayer: 2 });
    expect(spawner.spawned[0]?.engine.calls.map((c) => c.method)).toEqual(['tokenize', 'import']);
    expect((await apiError(service.handle('models.import', { path: '~/bad', id: 'broken' }))).kind).toBe('invalid_request');

    const settings = await service.handle('settings.set', { theme: 'dark', generation: { ...params, temperature: 0.5 } });
    expect(settings).toMatchObject({ theme: 'dark', generation: { temperature: 0.5 } });
    expect(Settings.parse(await service.handle('settings.get', {}))).toMatchObject({ theme: 'dark' });

    models.models.set('other', storedModel('other'));
    expect(await service.handle('models.remove', { id: 'other' })).toEqual({ removed: true });
    expect(models.removed).toEqual(['other']);
    expect(spawner.spawned[0]?.engine.calls.at(-1)).toEqual({ method: 'unload', args: ['other'] });
    expect((await apiError(service.handle('models.remove', { id: 'other' }))).kind).toBe('not_found');
  });

  it('routes history and documents to the history store', async () => {
    const { service, history } = makeService();
    const created = (await service.handle('documents.create', { title: 'Chapter 1', content: 'It was' })) as { id: number };
    expect(await service.handle('documents.save', { id: created.id, memory: 'A lighthouse', authorsNote: 'Gloomy' })).toMatchObject({ memory: 'A lighthouse', authorsNote: 'Gloomy', content: 'It was' });
    expect(await service.handle('documents.list', {})).toEqual([expect.objectContaining({ id: created.id, title: 'Chapter 1' })]);
    expect(history.documents.get(created.id).memory).toBe('A lighthouse');
    expect(await service.handle('documents.delete', { id: created.id })).toEqual({ deleted: true });
    expect((await apiError(service.handle('documents.get', { id: created.id }))).kind).toBe('not_found');

    const entry = history.generations.add({
      modelId: 'tiny', device: 'cpu', prompt: 'The sea', memory: '', params, seed: 1,
      candidates: [{ text: ' was calm', tokenIds: [1], finishReason: 'length' }],
      timings: { loadMs: 0, prefillMs: 0, decodeMs: 0, tokensPerSecond: 0 }, promptTokens: 2, truncatedPromptTokens: 0, documentId: null,
    });
    expect(await service.handle('history.star', { id: entry.id, starred: true })).toMatchObject({ starred: true });
    expect(await service.handle('history.accept', { id: entry.id, candidateIndex: 0 })).toMatchObject({ acceptedIndex: 0 });
    expect((await apiError(service.handle('history.accept', { id: entry.id, candidateIndex: 3 }))).kind).toBe('invalid_request');
    expect(await service.handle('history.list', { query: 'calm' })).toMatchObject({ total: 1 });
    expect(await service.handle('history.export', { format: 'json' })).toMatchObject({ mimeType: expect.stringContaining('json') });
    expect(await service.handle('history.delete', { id: entry.id })).toEqual({ deleted: true });
    expect((await apiError(service.handle('history.get', { id: entry.id }))).kind).toBe('not_found');
  });

  it('refuses native file dialogs in serve mode and uses them when injected', async () => {
    const { service } = makeService();
    const error = await apiError(service.handle('files.open', {}));
    expect(error).toMatchObject({ kind: 'refused', message: 'native file dialogs exist only in the desktop app' });
    expect((await apiError(service.handle('files.save', { suggestedName: 'a.md', content: '#' }))).kind).toBe('refused');

    const saved: string[] = [];
    const desktop = makeService({ deps: { openFile: async () => null, saveFile: async (name, content) => (saved.push(`${name}=${content}`), { path: `/home/${name}` }) } });
    expect(await desktop.service.handle('files.open', {})).toBeNull();
    expect(await desktop.service.handle('files.save', { suggestedName: 'a.md', content: '# Title' })).toEqual({ path: '/home/a.md' });
    expect(saved).toEqual(['a.md=# Title']);
  });

  it('lets nothing but ApiError out, even when a part throws a plain error', async () => {
    const { service, logs } = makeService({
      deps: {
        models: {
          list: () => { throw new TypeError('disk on fire'); },
          get: () => { throw new EngineError('refused', 'pickle checkpoints are refused'); },
          remove: () => {},
        },
      },
    });
    expect(await apiError(service.handle('models.list', {}))).toMatchObject({ kind: 'internal', message: 'disk on fire' });
    expect(logs.some((l) => l.includes('disk on fire'))).toBe(true);
    expect(await apiError(service.handle('generate.start', { modelId: 'tiny', prompt: 'x', params }))).toMatchObject({ kind: 'refused' });
  });

  it('combines inference status, device probe and the CUDA check in models.status', async () => {
    const { service, spawner } = makeService();
    expect(await service.handle('models.status', {})).toEqual({
      state: 'ready',
      loaded: [],
      devices: [
        { name: 'cpu', available: true },
        { name: 'webgpu', available: false, reason: 'no adapter' },
        { name: 'cuda', available: false, reason: 'not installed' },
      ],
      cudaInstalled: false,
    });
    await service.handle('tokenize', { modelId: 'tiny', text: 'x' });
    spawner.spawned[0]?.crash('SIGKILL');
    await new Promise((r) => setTimeout(r, 10));
    const status = (await service.handle('models.status', {})) as { state: string };
    expect(status.state).toBe('ready');
    expect(spawner.spawned).toHaveLength(2);
  });
});

describe('ApiService generation', () => {
  it('answers with an id at once, streams started → deltas → done, and commits history before done', async () => {
    const fixture = makeService();
    const { service, history } = fixture;
    let committedWhenDone: unknown = 'not checked';
    service.subscribe((event) => {
      if (event.channel === 'generation' && event.event.type === 'done') committedWhenDone = history.generations.get(event.event.result.historyId);
    });
    const doc = history.documents.create('Doc', '');
    const { generationId } = (await service.handle('generate.start', { modelId: 'tiny', prompt: 'Once', memory: 'Memory.', params, documentId: doc.id })) as { generationId: string };
    expect(generationId).toMatch(/^[0-9a-f-]{36}$/);
    const last = await fixture.finished(generationId);
    const types = fixture.generationEvents(generationId).map((e) => e.type);
    expect(types).toEqual(['started', 'delta', 'delta', 'delta', 'delta', 'delta', 'delta', 'done']);
    expect(fixture.generationEvents(generationId)[0]).toEqual({ type: 'started', generationId, modelId: 'tiny', device: 'cpu', precision: 'fp32', seed: 4242, promptTokens: 5, truncatedPromptTokens: 0, numSequences: 2 });

    if (last.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(last)}`);
    const result: GenerationResult = last.result;
    expect(result).toMatchObject({ generationId, modelId: 'tiny', device: 'cpu', seed: 4242 });
    expect(result.sequences.map((c) => c.text)).toEqual([' one two three', ' one two three']);
    const entry = history.generations.get(result.historyId);
    expect(committedWhenDone).toEqual(entry);
    expect(entry).toMatchObject({ prompt: 'Once', memory: 'Memory.', documentId: doc.id, seed: 4242, modelId: 'tiny' });
    // The seed actually used is stored with the parameters, so a re-run repeats the generation.
    expect(entry.params).toEqual({ ...params, seed: 4242 });
    expect(entry.candidates).toEqual(result.sequences);
  });

  it('saves the partial candidates of a cancelled generation (finish reason cancelled)', async () => {
    let release: () => void = () => {};
    const fixture = makeService({
      engine: () => {
        const engine = new FakeEngine({ pieces: [' a', ' b', ' c'] });
        engine.holdAfterFirstDelta = new Promise((resolve) => (release = resolve));
        return engine;
      },
    });
    const { generationId } = (await fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'Go', params })) as { generationId: string };
    while (!fixture.generationEvents(generationId).some((e) => e.type === 'delta')) await new Promise((r) => setTimeout(r, 1));
    expect(await fixture.service.handle('generate.cancel', { generationId })).toEqual({ cancelled: true });
    await new Promise((r) => setTimeout(r, 5));
    release();
    const last = await fixture.finished(generationId);
    if (last.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(last)}`);
    expect(last.result.sequences.map((c) => [c.text, c.finishReason])).toEqual([[' a', 'cancelled'], [' a', 'cancelled']]);
    expect(fixture.history.generations.get(last.result.historyId).candidates.every((c) => c.finishReason === 'cancelled')).toBe(true);
    expect(await fixture.service.handle('generate.cancel', { generationId })).toEqual({ cancelled: false });
  });

  it('keeps what was streamed when the process does not return a cancelled generation in time', async () => {
    const fixture = makeService({
      engine: () => {
        const engine = new FakeEngine({ pieces: [' a', ' b'] });
        engine.holdAfterFirstDelta = new Promise(() => {});
        return engine;
      },
      // The client stops waiting after this grace and rejects with 'cancelled'; the service saves the streamed text.
      cancelGraceMs: 30,
    });
    const { generationId } = (await fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'Go', params })) as { generationId: string };
    while (!fixture.generationEvents(generationId).some((e) => e.type === 'delta')) await new Promise((r) => setTimeout(r, 1));
    await fixture.service.handle('generate.cancel', { generationId });
    const last = await fixture.finished(generationId);
    if (last.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(last)}`);
    expect(last.result.sequences).toEqual([
      { text: ' a', tokenIds: [], finishReason: 'cancelled' },
      { text: ' a', tokenIds: [], finishReason: 'cancelled' },
    ]);
    expect(fixture.history.generations.get(last.result.historyId).prompt).toBe('Go');
  });

  it('reports engine errors as an error event and saves nothing', async () => {
    const fixture = makeService({
      engine: () => {
        const engine = new FakeEngine();
        engine.failNextGenerate = new EngineError('device', 'CUDA ran out of memory');
        return engine;
      },
    });
    const { generationId } = (await fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'x', params })) as { generationId: string };
    const last = await fixture.finished(generationId);
    expect(last).toEqual({ type: 'error', generationId, error: { kind: 'model_error', message: 'CUDA ran out of memory' } });
    expect(fixture.history.generations.list({}).total).toBe(0);
  });

  it('refuses an unknown model before starting anything', async () => {
    const fixture = makeService();
    expect((await apiError(fixture.service.handle('generate.start', { modelId: 'ghost', prompt: 'x', params }))).kind).toBe('not_found');
    expect(fixture.spawner.spawned).toHaveLength(0);
  });

  it('turns an inference crash into an error event and a crashed engine status; the next generation works', async () => {
    let release: () => void = () => {};
    let first = true;
    const fixture = makeService({
      engine: () => {
        const engine = new FakeEngine();
        if (first) engine.holdAfterFirstDelta = new Promise((resolve) => (release = resolve));
        first = false;
        return engine;
      },
    });
    const { service, history } = fixture;
    const { generationId } = (await service.handle('generate.start', { modelId: 'tiny', prompt: 'x', params })) as { generationId: string };
    while (!fixture.generationEvents(generationId).some((e) => e.type === 'delta')) await new Promise((r) => setTimeout(r, 1));
    fixture.spawner.spawned[0]?.crash('SIGKILL');
    const last = await fixture.finished(generationId);
    expect(last).toMatchObject({ type: 'error', error: { kind: 'engine_crashed', message: expect.stringContaining('SIGKILL') } });
    const engineEvents = fixture.events.flatMap((e) => (e.channel === 'engine' ? [e.status] : []));
    expect(engineEvents.map((s) => s.state)).toEqual(['starting', 'ready', 'crashed']);
    expect(engineEvents.at(-1)?.message).toContain('SIGKILL');
    expect(history.generations.list({}).total).toBe(0);
    release();

    const again = (await service.handle('generate.start', { modelId: 'tiny', prompt: 'y', params })) as { generationId: string };
    const done = await fixture.finished(again.generationId);
    expect(done.type).toBe('done');
    expect(history.generations.list({}).total).toBe(1);
  });

  it('close() cancels running generations and waits until they are saved', async () => {
    const fixture = makeService({ engine: () => new FakeEngine({ pieces: Array.from({ length: 200 }, () => ' w'), stepMs: 5 }) });
    const { generationId } = (await fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'z', params })) as { generationId: string };
    while (!fixture.generationEvents(generationId).some((e) => e.type === 'delta')) await new Promise((r) => setTimeout(r, 1));
    await fixture.service.close();
    const events: GenerationEvent[] = fixture.generationEvents(generationId);
    const last = events.at(-1);
    if (last?.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(last)}`);
    expect(fixture.history.generations.get(last.result.historyId).candidates[0]?.finishReason).toBe('cancelled');
    expect((await apiError(fixture.service.handle('app.info', {}))).kind).toBe('refused');
  });
});

describe('ApiService generate.get (fault 3.8: a done lost during a WebSocket reconnect left the UI streaming forever)', () => {
  it('reports a running generation with the text so far, then the finished one with its result, to a client that saw no events', async () => {
    let release: () => void = () => {};
    const fixture = makeService({
      engine: () => {
        const engine = new FakeEngine({ pieces: [' one', ' two'] });
        engine.holdAfterFirstDelta = new Promise<void>((resolve) => (release = resolve));
        return engine;
      },
    });
    const { generationId } = (await fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'Once', params })) as { generationId: string };
    expect(await fixture.service.handle('generate.get', { generationId })).toMatchObject({ generationId, status: 'running' });
    await vi.waitFor(() => expect(fixture.generationEvents(generationId).some((e) => e.type === 'delta')).toBe(true));
    await vi.waitFor(async () => expect(await fixture.service.handle('generate.get', { generationId })).toMatchObject({ texts: [' one', ' one'] }));
    expect(await fixture.service.handle('generate.get', { generationId })).toMatchObject({
      status: 'running',
      started: { modelId: 'tiny', device: 'cpu', seed: 4242, numSequences: 2 },
    });
    release();
    const last = await fixture.finished(generationId);
    if (last.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(last)}`);
    expect(await fixture.service.handle('generate.get', { generationId })).toEqual({
      generationId,
      status: 'done',
      texts: [' one two', ' one two'],
      started: { modelId: 'tiny', device: 'cpu', precision: 'fp32', seed: 4242, promptTokens: 5, truncatedPromptTokens: 0, numSequences: 2 },
      result: last.result,
    });
  });

  it('reports a failed generation with its error, and not_found for an id it never had', async () => {
    const fixture = makeService({ engine: () => Object.assign(new FakeEngine(), { failNextGenerate: new EngineError('device', 'CUDA ran out of memory') }) });
    const { generationId } = (await fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'x', params })) as { generationId: string };
    await fixture.finished(generationId);
    expect(await fixture.service.handle('generate.get', { generationId })).toMatchObject({ status: 'error', error: { kind: 'model_error', message: 'CUDA ran out of memory' } });
    expect((await apiError(fixture.service.handle('generate.get', { generationId: 'never-started' }))).kind).toBe('not_found');
  });
});

describe('ApiService admission (fault 3.1: 200 long jobs were all accepted and the inference process ran out of memory)', () => {
  it('admits generations up to the bound, queues a few more, and answers the rest busy at once', async () => {
    let release: () => void = () => {};
    const hold = new Promise<void>((resolve) => (release = resolve));
    let engine: FakeEngine | undefined;
    const fixture = makeService({
      engine: () => {
        engine = new FakeEngine({ pieces: [' a', ' b'] });
        engine.holdAfterFirstDelta = hold;
        return engine;
      },
      deps: { admission: new AdmissionQueue({ maxSequences: 16, maxBytes: 64 * 1024 ** 3, maxQueuedSequences: 32 }) },
    });
    const request = { modelId: 'tiny', prompt: 'The lighthouse keeper '.repeat(40), params: GenerationParams.parse({ numReturnSequences: 8, maxNewTokens: 200 }) };
    const accepted: string[] = [];
    const refused: ApiError[] = [];
    for (let i = 0; i < 200; i += 1) {
      try {
        accepted.push(((await fixture.service.handle('generate.start', request)) as { generationId: string }).generationId);
      } catch (error) {
        refused.push(error as ApiError);
      }
    }
    // 2 × 8 sequences run, 4 × 8 wait; the other 194 are refused with a message the UI can show.
    expect(accepted).toHaveLength(6);
    expect(refused).toHaveLength(194);
    expect(refused.every((e) => e instanceof ApiError && e.kind === 'busy')).toBe(true);
    expect(refused[0]?.message).toMatch(/^Inkwell is busy: 16 sequence\(s\) are being generated and 4 request\(s\) are waiting/);
    await vi.waitFor(() => expect(engine?.runningSequences).toBe(16));
    release();
    for (const id of accepted) expect((await fixture.finished(id)).type).toBe('done');
    expect(engine?.peakRunningSequences).toBe(16);
    // Room again once they finished.
    const next = (await fixture.service.handle('generate.start', request)) as { generationId: string };
    expect((await fixture.finished(next.generationId)).type).toBe('done');
  });

  it('refuses a generation the machine could never hold before starting anything', async () => {
    const fixture = makeService({ deps: { admission: new AdmissionQueue({ maxSequences: 8, maxBytes: 256 * 1024 ** 2, maxQueuedSequences: 8 }) } });
    const model = fixture.models.models.get('tiny');
    if (model) model.config = { nLayer: 36, nEmbd: 1280, nHead: 20, nPositions: 1024, vocabSize: 50257 };
    const big = { modelId: 'tiny', prompt: 'x'.repeat(4000), params: GenerationParams.parse({ numReturnSequences: 8, maxNewTokens: 1024 }) };
    const error = await apiError(fixture.service.handle('generate.start', big));
    expect(error.kind).toBe('refused');
    expect(error.message).toMatch(/needs about \d+(\.\d)? GiB of memory for 8 sequence\(s\), more than the 256 MiB/);
    expect(fixture.spawner.spawned).toHaveLength(0);
  });
});

describe('ApiService storage failures (fault 3.3: every write to a read-only or full database failed as "internal")', () => {
  /** A real SqliteError of the given kind, made on a throwaway in-memory database. */
  function sqliteFull(): Error {
    const db = new Database(':memory:');
    db.pragma('max_page_count = 2');
    try {
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000))');
    } catch (error) {
      return error as Error;
    } finally {
      db.close();
    }
    throw new Error('expected SQLITE_FULL');
  }

  it('reports a full disk when a generation cannot be saved, as disk_full', async () => {
    const full = sqliteFull();
    expect((full as { code?: string }).code).toBe('SQLITE_FULL');
    const fixture = makeService({
      wrapHistory: (real): HistoryPort => {
        const g = real.generations;
        return {
          readOnly: false,
          documents: real.documents,
          settings: real.settings,
          comparisons: real.comparisons,
          generations: {
            add: () => {
              throw full;
            },
            list: (q) => g.list(q),
            get: (id) => g.get(id),
            setStarred: (id, starred) => g.setStarred(id, starred),
            setAccepted: (id, index) => g.setAccepted(id, index),
            delete: (id) => g.delete(id),
            export: (format, ids) => g.export(format, ids),
          },
        };
      },
    });
    const { generationId } = (await fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'x', params })) as { generationId: string };
    const last = await fixture.finished(generationId);
    expect(last).toMatchObject({ type: 'error', error: { kind: 'disk_full', message: expect.stringMatching(/could not be saved to history: Inkwell cannot save: the disk is full/) } });
  });

  it('refuses to start a generation that a read-only history could not keep', async () => {
    const fixture = makeService();
    Object.defineProperty(fixture.history, 'readOnly', { value: true });
    const error = await apiError(fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'x', params }));
    expect(error.kind).toBe('read_only');
    expect(fixture.spawner.spawned).toHaveLength(0);
  });
});

describe('ApiService models.import paths (issue 7: ~ and relative paths were not expanded)', () => {
  it('expands ~ and takes relative paths from the home folder of the machine the back end runs on', async () => {
    const fixture = makeService();
    await fixture.service.handle('models.import', { path: '~/ckpt', id: 'a' });
    await fixture.service.handle('models.import', { path: 'ckpt', id: 'b' });
    await fixture.service.handle('models.import', { path: join(fixture.userHome, 'ckpt'), id: 'c' });
    const imports = fixture.spawner.spawned[0]?.engine.calls.filter((c) => c.method === 'import').map((c) => c.args[0]);
    expect(imports).toEqual([join(fixture.userHome, 'ckpt'), join(fixture.userHome, 'ckpt'), join(fixture.userHome, 'ckpt')]);
  });

  it('says which machine a missing or wrong path is on, and imports nothing', async () => {
    const fixture = makeService();
    writeFileSync(join(fixture.userHome, 'weights.bin'), 'x');
    const missing = await apiError(fixture.service.handle('models.import', { path: '~/models/gpt2', id: 'x' }));
    expect(missing).toMatchObject({ kind: 'invalid_request', message: `there is no folder ${join(fixture.userHome, 'models', 'gpt2')} on the computer running inkwell serve (inkwell-test-host)` });
    const file = await apiError(fixture.service.handle('models.import', { path: '~/weights.bin', id: 'x' }));
    expect(file.message).toMatch(/weights\.bin on the computer running inkwell serve \(inkwell-test-host\) is a file/);
    expect((await apiError(fixture.service.handle('models.import', { path: '~root/models', id: 'x' }))).message).toMatch(/only ~ \(your own home folder\) is expanded/);
    // The engine's own complaints about files in the folder name the machine too.
    const bad = await apiError(fixture.service.handle('models.import', { path: '~/bad', id: 'x' }));
    expect(bad.message).toBe(`${join(fixture.userHome, 'bad')}/config.json: malformed JSON (on the computer running inkwell serve (inkwell-test-host))`);
    expect(fixture.spawner.spawned[0]?.engine.calls.filter((c) => c.method === 'import').map((c) => c.args[0])).toEqual([join(fixture.userHome, 'bad')]);
  });

  it('says "this computer" in the desktop app', () => {
    expect(describeMachine({ homedir: '/home/w', hostname: 'laptop', transport: 'electron' })).toBe('this computer (laptop)');
  });
});
